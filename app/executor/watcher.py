"""The cancel watcher: notices that a run was taken over even while every step is busy.

The runner learns it lost its run when an append fails, but a step may run for an
hour without appending. The watcher re-reads the run's state every second and sets
`cancelled` once the stream has ended past what this runner wrote, so the steps'
containers stop within a couple of seconds.
"""

from __future__ import annotations

import logging
import threading

from app.executor.runs import RunLedger, RunRecorder
from app.executor.stop import TAKEN_OVER, RunStop

logger = logging.getLogger(__name__)


class CancelWatcher:
    """A daemon thread that sets `cancelled` when someone else ends the run."""

    def __init__(
        self,
        ledger: RunLedger,
        recorder: RunRecorder,
        cancelled: RunStop,
        interval: float = 1.0,
    ) -> None:
        self._ledger = ledger
        self._recorder = recorder
        self._interval = interval
        self.cancelled = cancelled
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        """Start watching."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; `cancelled` is set from now on, so nothing more starts."""
        self.cancelled.stop("the run ended")
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        run_id = self._recorder.run_id
        while not self.cancelled.wait(self._interval):
            try:
                state = self._ledger.state(run_id)
            except Exception:  # the database, for a moment: look again at the next tick
                logger.warning("run %s: cannot read its state; will retry", run_id)
                continue
            if state.finished and state.version > self._recorder.version:
                self.cancelled.stop(TAKEN_OVER)
