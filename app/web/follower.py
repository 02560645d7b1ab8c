"""A thread that keeps the projections current while `shiplog serve` runs."""

from __future__ import annotations

import logging
import threading

from app.projections import projector
from events.store import EventStore

log = logging.getLogger("shiplog.serve")
RETRY_SECONDS = 2.0


class ProjectionFollower:
    """Runs Projector.follow in a daemon thread; restarts it after a failure, stops on request."""

    def __init__(self, store: EventStore, *, poll_seconds: float = 1.0) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="projection-follower", daemon=True)

    def start(self) -> None:
        """Start following."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the follower to stop and wait for it (it wakes at the next poll at the latest)."""
        self._stop.set()
        self._thread.join(timeout=self.poll_seconds + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                projector(self.store).follow(self._stop, poll_seconds=self.poll_seconds)
            except Exception:  # a database restart must not end the pages' freshness for good
                log.exception("projection follower failed; retrying in %s s", RETRY_SECONDS)
                self._stop.wait(RETRY_SECONDS)
