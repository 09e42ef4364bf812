"""What the experiment pages say: their console blocks, and whether what a
command printed is what the page shows (run.py's docstring has the
format)."""
import re

# The RFC 3339 timestamp a log line starts with, which the pages leave out.
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\s+")


def parse(path):
    """Yields (line number, options, steps) for each console block; a step
    is [kind, command or None, expected lines] with kind "$", "^C" or "watch"."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        fence = re.match(r"^```console\b(.*)$", lines[i])
        i += 1
        if not fence:
            continue
        start, options = i, dict(w.partition("=")[::2] for w in fence.group(1).split())
        steps = []
        while not lines[i].startswith("```"):
            line = lines[i]
            if line.startswith("$ "):
                command = line[2:]
                while command.endswith("\\") or lines[i + 1].startswith("> "):
                    i += 1
                    command += "\n" + (lines[i][2:] if lines[i].startswith("> ") else lines[i])
                steps.append(["$", command, []])
            elif line == "^C":
                steps.append(["^C", None, []])
            else:
                if not steps:
                    steps.append(["watch", None, []])
                steps[-1][2].append(line)
            i += 1
        yield start, options, steps


def squeeze(line):
    """Runs of spaces and tabs count as one space: tables keep their look on
    the page whatever the widths of their columns."""
    return re.sub(r"[ \t]+", " ", line).strip()


def line_pattern(expected):
    return ".*".join(re.escape(part) for part in squeeze(expected).split("[..]"))


def matches(expected, actual):
    """Whether the actual lines are the expected ones, wildcards applied."""
    pats = [None if e.strip() == "..." else re.compile(line_pattern(e)) for e in expected]
    reach = {0}  # expected lines consumed so far, per way through
    for line in actual:
        nxt = set()
        for k in reach:
            while k < len(pats) and pats[k] is None:
                nxt.add(k)  # `...` swallows this line
                k += 1
            if k < len(pats) and pats[k].fullmatch(squeeze(line)):
                nxt.add(k + 1)
        reach = nxt
    return any(all(p is None for p in pats[k:]) for k in reach)


def terminal_line(expected):
    """Whether a terminal's line, less a leading timestamp, is the expected
    one (a whole line, wildcards applied)."""
    pattern = re.compile(line_pattern(expected))
    return lambda line: pattern.fullmatch(squeeze(TIMESTAMP.sub("", line))) is not None
