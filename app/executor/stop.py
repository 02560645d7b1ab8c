"""Why a run's steps are being stopped: someone else ended the run, or the run itself is ending.

Every step of a run watches one RunStop. It is set when the steps must stop, and its
`reason` tells the dispatcher what to record: None means someone else ended the run
(a cancel, a reaper), who also closed its open steps, so the runner writes nothing
more; any other reason means this runner is ending the run and closes each step it
stops with a StepFinished that says why.
"""

from __future__ import annotations

import threading

from app.executor.runs import RunInterrupted

TAKEN_OVER: None = None
"""The reason of a stop because someone else ended the run."""
INTERRUPTED = "interrupted"
"""The reason of a stop by Ctrl-C (or SIGINT) on the process running the run."""


class EngineLost(Exception):
    """The Docker engine stopped answering while a step ran; the step was closed with `reason`."""

    def __init__(self, step: str, came_back: bool) -> None:
        self.step = step
        self.came_back = came_back
        self.reason = "engine restarted" if came_back else "engine unavailable"
        what = "restarted" if came_back else "stopped answering"
        super().__init__(f"the Docker engine {what} during step {step!r}")


class RunStop(threading.Event):
    """Set when the run's steps must stop; `reason` says why (TAKEN_OVER: by someone else)."""

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = TAKEN_OVER

    def stop(self, reason: str | None) -> None:
        """Ask every step to stop, for `reason`; the first reason given stays."""
        if not self.is_set():
            self.reason = reason
            self.set()


def stop_reason(error: BaseException) -> str | None:
    """The reason to stop the other steps when `error` ends the run's step graph."""
    if isinstance(error, RunInterrupted):
        return TAKEN_OVER
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED
    if isinstance(error, EngineLost):
        return f"stopped: {error}"
    return f"stopped: the run failed ({type(error).__name__})"
