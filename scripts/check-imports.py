#!/usr/bin/env python3
"""Fails when the files of a crate import each other in a circle.

Each crate's modules should stand in layers, the shared types lowest, so
that a file can be read knowing only the files below it. A module's
dependencies are the `crate::<module>` paths its file names (a `use` or a
full path; a child module's imports count as its parent's, since they are
one unit to the reader). Prints each circle found, as the strongly
connected components of that graph, and exits 1 if there is any.

    scripts/check-imports.py [CRATE_DIR...]   default: every workspace crate
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRATE_PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
# `use crate::{a, b::c}` names several top-level modules at once.
CRATE_GROUP = re.compile(r"\bcrate::\{([^}]*)\}", re.S)


def module_of(src: pathlib.Path, file: pathlib.Path) -> str | None:
    """The top-level module a file belongs to; None for lib.rs/main.rs."""
    parts = file.relative_to(src).parts
    name = parts[0].removesuffix(".rs")
    return None if name in ("lib", "main") else name


def edges(src: pathlib.Path) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for file in sorted(src.rglob("*.rs")):
        module = module_of(src, file)
        if module is None:
            continue
        text = file.read_text()
        names = set(CRATE_PATH.findall(text))
        for group in CRATE_GROUP.findall(text):
            names.update(re.findall(r"(?:^|,)\s*([a-z_][a-z0-9_]*)", group))
        graph.setdefault(module, set()).update(n for n in names if n != module)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main() -> int:
    crates = [pathlib.Path(a) for a in sys.argv[1:]] or sorted(
        p.parent for p in ROOT.glob("*/Cargo.toml")
    )
    failed = False
    for crate in crates:
        src = crate / "src"
        if not src.is_dir():
            continue
        for circle in circles(edges(src)):
            failed = True
            print(f"{crate.name}: import circle between {', '.join(circle)}")
    if not failed:
        print(f"no import circles in {len(crates)} crates")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
