"""Print pixelsmith's import graph between top-level modules and subpackages, and any cycles.

Reads every module with ``ast`` (function-local imports included), groups modules by the first
name below ``pixelsmith`` (``pixelsmith.train.trainer`` -> ``train``), and reports the arrows
between different groups, the module-level cycles (strongly connected components of more than
one module) and the group-level cycles. Used to check that the layout keeps its one-way flow.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "pixelsmith"


def module_name(path: Path, root: Path) -> str:
    """The dotted module name of a file under ``root`` (the pixelsmith package folder)."""
    parts = ["pixelsmith", *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str], this: str) -> set[str]:
    """The pixelsmith modules a file imports (the longest known prefix of each import)."""
    found = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = this.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            # ``from package import submodule`` depends on the submodule; ``from module import
            # name`` on the module
            names = [name for name in submodules if name in known] or [base]
        for name in names:
            parts = name.split(".")
            for end in range(len(parts), 0, -1):
                candidate = ".".join(parts[:end])
                if candidate in known:
                    if candidate != this:
                        found.add(candidate)
                    break
    return found


def group(module: str) -> str:
    """``pixelsmith.train.trainer`` -> ``train``; ``pixelsmith.io`` -> ``io``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "pixelsmith"


def module_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the pixelsmith modules it imports."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    known = set(files)
    return {name: imported_modules(path, known, name) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def group_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between groups (top-level modules and subpackages), self-arrows dropped."""
    groups: dict[str, set[str]] = defaultdict(set)
    for source, targets in graph.items():
        groups[group(source)]  # every group is a node, even without arrows
        for target in targets:
            if group(source) != group(target) and group(target) != "pixelsmith":
                groups[group(source)].add(group(target))
    return dict(groups)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrows", action="store_true", help="list every arrow between groups")
    args = parser.parse_args(argv)
    graph = module_graph()
    arrows = sum(len(targets - {source}) for source, targets in graph.items())
    groups = group_graph(graph)
    print(f"{len(graph)} modules, {arrows} module arrows; {len(groups)} groups, "
          f"{sum(map(len, groups.values()))} arrows between groups")
    if args.arrows:
        for source in sorted(groups):
            print(f"  {source} -> {', '.join(sorted(groups[source])) or '-'}")
    module_cycles, group_cycles = cycles(graph), cycles(groups)
    for component in module_cycles:
        print("module cycle:", " <-> ".join(component))
    for component in group_cycles:
        print("group cycle:", " <-> ".join(component))
    return 1 if module_cycles else 0


if __name__ == "__main__":
    raise SystemExit(main())
