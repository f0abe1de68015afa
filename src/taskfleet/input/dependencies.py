"""The whole input's dependency graph: unknown task ids and cycles.

Checked once the input has ended, from what ``taskfile`` kept of each task
(its line and its ``depends_on``), so a million-task file is never held.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping

__all__ = ["DependencyEdges", "dependency_issues"]

# task id -> (its line, the ids it depends on)
DependencyEdges = Mapping[str, tuple[int, tuple[str, ...]]]


def dependency_issues(
    edges: DependencyEdges, known_ids: Collection[str], *, ids_complete: bool
) -> Iterator[tuple[int, str]]:
    """(line, message) of every dependency on an unknown id and of every cycle.

    ``ids_complete``: False when some task's id could not be read; a
    dependency on it would then be reported as unknown although it may be there.
    """
    if ids_complete:
        for line, depends_on in edges.values():
            for dep in depends_on:
                if dep not in known_ids:
                    yield line, f"unknown task id '{dep}'"
    for cycle in _find_cycles(edges):
        yield edges[cycle[0]][0], f"dependency cycle: {_path(cycle)}"


def _find_cycles(edges: DependencyEdges) -> Iterator[list[str]]:
    """Each cycle closed by a back edge of a depth-first walk, as ids a, b, ..., a."""
    done: set[str] = set()
    for root in edges:
        if root in done:
            continue
        path = [root]
        on_path = {root: 0}  # id -> its index in path
        stack = [iter(edges[root][1])]
        while stack:
            for dep in stack[-1]:
                if dep in on_path:
                    yield [*path[on_path[dep] :], dep]
                elif dep in edges and dep not in done:
                    on_path[dep] = len(path)
                    path.append(dep)
                    stack.append(iter(edges[dep][1]))
                    break
            else:
                stack.pop()
                node = path.pop()
                del on_path[node]
                done.add(node)


def _path(ids: list[str]) -> str:
    if len(ids) <= 12:
        return " -> ".join(ids)
    return " -> ".join([*ids[:10], "...", ids[-1]]) + f" ({len(ids) - 1} tasks)"
