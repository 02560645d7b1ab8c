"""Whether a container hit its process limit, read from its pids cgroup.

The kernel counts every fork refused for the pids limit in the cgroup's `pids.events`
(`max N`); the Docker engine does not report it, and the cgroup disappears when the
container stops. So it is read twice over:

- while the step runs, by the runner, from the host's view of the container's cgroup
  (found through its first process's /proc/<pid>/cgroup, cgroup v1 or v2), so that a
  step that keeps forking is stopped at once rather than at its timeout;
- when the step's commands end, by the container's first process: the commands run
  as a child of a small shell (`probed_command`) which then reads its own cgroup's
  `pids.events` with shell builtins only (no fork is needed, so it works with every
  process slot taken) and prints the count after a mark the runner takes out of the
  log (`ProbeReader`). A fork bomb that brings its step down at once is caught too.

Where neither view exists (another host, an image without /bin/sh) the limit still
holds, but is not given as the reason a step failed.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from app.executor.actions.support import LogSink

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


_PROBE = (
    '/bin/sh -c "$1"; code=$?; '
    "for f in /sys/fs/cgroup/pids/pids.events /sys/fs/cgroup/pids.events; do "
    'if [ -r "$f" ]; then while read -r key value; do '
    'if [ "$key" = max ]; then echo "$2 $value"; fi; done < "$f"; break; fi; done; '
    "exit $code"
)


def probe_mark() -> str:
    """A fresh mark for one step's probe line."""
    return f"shiplog-pids-probe-{uuid.uuid4().hex}"


def probed_command(script: str, mark: str) -> dict[str, Any]:
    """Container arguments that run `script` in a shell, then print `mark` and refused forks."""
    return {"entrypoint": ["/bin/sh", "-c"], "command": [_PROBE, "shiplog-step", script, mark]}


class ProbeReader:
    """A log sink that takes the probe's line out of the output and keeps its count."""

    def __init__(self, log: LogSink, mark: str) -> None:
        self._log = log
        self._mark = mark
        self.refused: int = 0

    def __call__(self, line: str) -> None:
        """Pass `line` on, less the probe's mark and count if it holds them."""
        at = line.find(self._mark)
        if at < 0:
            self._log(line)
            return
        count = line[at + len(self._mark) :].strip()
        self.refused = max(self.refused, int(count) if count.isdigit() else 0)
        if line[:at]:
            self._log(line[:at])  # the commands' last output had no newline
