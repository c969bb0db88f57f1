"""Fail when any import circle exists among gateway's modules (DESIGN section 3: imports
point down, with no import circle inside `gateway/`).

The import graph comes from grimp, which reads every import statement, those inside
functions included; a package's `__init__` counts as a module of its own, so the Flask
pattern of a package that defines a blueprint and then imports the views that import it
back is a circle too.

Usage: python tools/check_import_cycles.py [PACKAGE ...]   (default: gateway)
Exit status 1 and every circle printed when there is one, 0 otherwise.
"""

from __future__ import annotations

import sys

import grimp


def circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iteratively)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def main(packages: list[str]) -> int:
    graph = grimp.build_graph(*packages, include_external_packages=False)
    found = circles(graph)
    for group in found:
        print(f"import circle of {len(group)} modules:")
        for module in group:
            inside = sorted(graph.find_modules_directly_imported_by(module) & set(group))
            print(f"  {module} -> {', '.join(inside)}")
    if found:
        return 1
    print(f"import circles: none among {len(graph.modules)} modules of {', '.join(packages)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["gateway"]))
