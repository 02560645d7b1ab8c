"""The step graph: who waits for whom, what may start now, and dependency cycles."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence, Set

from app.pipeline.steps import Step, producer_of

Deps = Mapping[str, frozenset[str]]
"""Step name -> names of the steps it waits for; iteration order is file order."""


def step_dependencies(steps: Sequence[Step]) -> dict[str, frozenset[str]]:
    """What each step waits for: explicit `depends_on`, file order, and images it needs built.

    A step whose `image` (or `push.image`, `scan.image`) is a tag built by an earlier build
    step, or a scan step naming a build step, waits for that step even when its `depends_on`
    does not say so. (A tag built by a later step is an
    error that the checks report; no edge is added for it.)
    """
    file_order = not any(step.depends_on is not None for step in steps)
    result: dict[str, frozenset[str]] = {}
    previous: str | None = None
    for step in steps:
        waits = set(step.depends_on or ())
        if file_order and previous is not None:
            waits.add(previous)
        producer = producer_of(step, steps)
        if producer is not None and producer in result:
            waits.add(producer)
        result.setdefault(step.name, frozenset(waits))
        previous = step.name
    return result


def ready(done: Set[str], running: Set[str], deps: Deps, *, limit: int | None = None) -> list[str]:
    """Steps that may start now, in file order: not started, and all they wait for is done.

    `done` holds every finished step, whatever its outcome (succeeded, failed or skipped);
    the executor then decides from `when` whether a ready step runs or is skipped. With a
    `limit` on parallel steps, at most `limit - len(running)` names are returned.
    """
    names = [
        name
        for name, waits in deps.items()
        if name not in done and name not in running and waits <= done
    ]
    if limit is not None:
        names = names[: max(0, limit - len(running))]
    return names


def ancestors(deps: Deps) -> dict[str, frozenset[str]]:
    """Every step each step waits for, directly or through others (its upstream)."""
    return {name: frozenset(_reachable(name, deps)) for name in deps}


def find_cycles(deps: Deps) -> list[list[str]]:
    """Each group of steps that wait for each other, as one cycle `[a, b, ..., a]`.

    Cycles start at the group's first step in file order; self-dependencies are left out.
    """
    reach = {name: _reachable(name, deps) for name in deps}
    seen: set[str] = set()
    cycles: list[list[str]] = []
    for name in deps:
        if name in seen or name not in reach[name]:
            continue
        group = {other for other in reach[name] if name in reach[other]}
        seen |= group
        path = _path_back(name, deps, group)
        if len(path) > 2:
            cycles.append(path)
    return cycles


def _reachable(start: str, deps: Deps) -> set[str]:
    """Names reachable from `start` along at least one edge."""
    found: set[str] = set()
    stack = list(deps.get(start, ()))
    while stack:
        name = stack.pop()
        if name not in found:
            found.add(name)
            stack.extend(deps.get(name, ()))
    return found


def _path_back(start: str, deps: Deps, group: Set[str]) -> list[str]:
    """The shortest way from `start` back to itself within `group`, skipping self-loops."""
    rank = {name: index for index, name in enumerate(deps)}
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        name = queue.popleft()
        for nxt in sorted(deps.get(name, ()), key=lambda n: rank.get(n, len(rank))):
            if nxt == start and name != start:
                path = [start]
                while name != start:
                    path.insert(1, name)
                    name = previous[name]
                return [*path, start]
            if nxt in group and nxt != start and nxt not in previous:
                previous[nxt] = name
                queue.append(nxt)
    return [start, start]
