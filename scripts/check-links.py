#!/usr/bin/env python3
"""Checks the links of the project's Markdown pages, offline.

Every relative link (inline `[text](target)`, image, reference definition
`[name]: target`, autolink) in README.md, ARCHITECTURE.md, BENCHMARKS.md and
docs/*.md must name a file or directory that exists, and its `#anchor` a
heading of that page, spelt as GitHub spells anchors. Repository paths
written as code (`scripts/test.sh`, `docs/api.md`) must exist too, so that
a command a page tells you to run still names a real file. External
http(s) links are only checked for their form, never fetched: CI has no
internet, and a page that moved elsewhere is not this repository's bug.

Usage: scripts/check-links.py [file.md ...]   (default: the pages above)
Exits 1, listing each broken link as file:line, if any is broken.
Python standard library only.
"""

import re
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PAGES = ["README.md", "ARCHITECTURE.md", "BENCHMARKS.md", "docs/*.md"]

# A fence may open a list item ("- ```").
FENCE = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+)?(```|~~~)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
# [text](target "title") and ![alt](target); text may hold `code` or [nested].
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"(?m)^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: its text as rendered (code and
    links reduced to their text), lower-cased, every character but letters,
    digits, spaces, `-` and `_` dropped, spaces made hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "").strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def prose_lines(path: Path):
    """(line number, text, inside a fenced block) for each line."""
    fenced = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            yield number, line, True
            continue
        yield number, line, fenced


_anchor_cache: dict = {}


def anchors_of(path: Path) -> set:
    """Every anchor a Markdown page offers: its headings (a repeated one
    gets -1, -2, ... as on GitHub) and explicit <a name|id>."""
    if path not in _anchor_cache:
        anchors, seen = set(), {}
        for _, line, fenced in prose_lines(path):
            if fenced:
                continue
            anchors.update(HTML_ANCHOR.findall(line))
            match = HEADING.match(line)
            if not match:
                continue
            base = github_anchor(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            anchors.add(base if count == 0 else f"{base}-{count}")
        _anchor_cache[path] = anchors
    return _anchor_cache[path]


def check_external(target: str):
    parts = urllib.parse.urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in target:
        return f"malformed URL {target!r}"
    return None


def check_target(page: Path, target: str):
    """None if `target`, linked from `page`, resolves; else why not."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
        if target.startswith(("http:", "https:")):
            return check_external(target)
        if target.startswith("mailto:"):
            return None
        return f"unexpected scheme in {target!r}"
    path_part, _, anchor = target.partition("#")
    path_part = urllib.parse.unquote(path_part)
    if path_part.startswith("/"):
        return f"absolute path {target!r} (GitHub resolves it from the site root)"
    resolved = (page.parent / path_part).resolve() if path_part else page
    try:
        resolved.relative_to(ROOT)
    except ValueError:
        return f"{target!r} leaves the repository"
    if not resolved.exists():
        return f"no such file: {target!r}"
    if anchor and resolved.suffix == ".md":
        if anchor not in anchors_of(resolved):
            return f"no heading #{anchor} in {resolved.relative_to(ROOT)}"
    return None


TOP_LEVEL = {p.name for p in ROOT.iterdir() if not p.name.startswith(".")} | {".ci"}


def check_code_path(span: str):
    """A code span that is a repository path (starts with a top-level
    directory, no spaces or wildcards) must exist; None otherwise."""
    token = span.strip().rstrip(".,:;")
    if not re.fullmatch(r"[\w./-]+", token) or "/" not in token or "*" in token:
        return None
    first = token.split("/", 1)[0]
    if first not in TOP_LEVEL or not (ROOT / first).is_dir():
        return None
    if not (ROOT / token).exists():
        return f"code names a path that does not exist: {token!r}"
    return None


def paragraphs(page: Path):
    """(first line number, text) of each run of prose lines outside fenced
    blocks, so that a link or code span broken over two lines is whole."""
    block, first = [], 0
    for number, line, fenced in prose_lines(page):
        if fenced or not line.strip():
            if block:
                yield first, block
            block = []
            continue
        if not block:
            first = number
        block.append(line)
    if block:
        yield first, block


def check_page(page: Path):
    problems = []
    name = page.relative_to(ROOT)
    for first, lines in paragraphs(page):
        text = "\n".join(lines)

        def where(offset):
            return f"{name}:{first + text.count(chr(10), 0, offset)}"

        # Links inside code spans are examples, not links.
        for match in CODE_SPAN.finditer(text):
            problem = check_code_path(match.group(2))
            if problem:
                problems.append(f"{where(match.start())}: {problem}")
        prose = CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
        found = [(m.start(), m.group(1)) for m in INLINE_LINK.finditer(prose)]
        found += [(m.start(), m.group(1)) for m in AUTOLINK.finditer(prose)]
        found += [(m.start(), m.group(1)) for m in REFERENCE_DEF.finditer(prose)]
        for offset, target in found:
            problem = check_target(page, target) if target else "empty link target"
            if problem:
                problems.append(f"{where(offset)}: {problem}")
    return problems


def main(argv):
    if argv:
        pages = [Path(arg).resolve() for arg in argv]
    else:
        pages = sorted({p for pattern in DEFAULT_PAGES for p in ROOT.glob(pattern)})
    problems = [problem for page in pages for problem in check_page(page)]
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"check-links: {len(pages)} pages, {len(problems)} broken link(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
