"""Whether a running container has hit its process limit, read from its pids cgroup.

The kernel counts every fork refused for the pids limit in the cgroup's `pids.events`
(`max N`); the Docker engine does not report it, and the cgroup disappears when the
container stops, so the count is read while the step runs. The container's cgroup is
found through its first process's /proc/<pid>/cgroup, for cgroup v1 (the `pids`
hierarchy) and v2 (the unified one). Where the runner cannot see the container's
processes (another host, another PID namespace) nothing is found and the limit still
holds, but is not reported as the reason a step failed.
"""

from __future__ import annotations

from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
EVENTS_FILE = "pids.events"


def pids_events_file(pid: int, root: Path = CGROUP_ROOT) -> Path | None:
    """The `pids.events` file of the cgroup process `pid` is in, if this host shows it."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    candidates: list[Path] = []
    for line in lines:
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "-", "")
        relative = path.lstrip("/")
        if "pids" in controllers.split(","):
            candidates.insert(0, root / controllers / relative / EVENTS_FILE)
        elif controllers == "":
            candidates.append(root / relative / EVENTS_FILE)
    return next((candidate for candidate in candidates if candidate.is_file()), None)


def refused_forks(events: Path) -> int:
    """How many forks the pids limit refused so far (0 once the cgroup is gone)."""
    try:
        text = events.read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "max" and value.strip().isdigit():
            return int(value)
    return 0
