"""Wake subscribers after appends commit, one NOTIFY per burst of appends.

Why not NOTIFY inside the appending transaction, where it is simplest? Because
PostgreSQL adds the notification to its queue during commit under one
cluster-wide lock that is held until the commit record is flushed to disk. Every
transaction that notifies therefore commits alone, one fsync after the other,
and concurrent writers lose group commit: measured here, four writers with an
in-transaction NOTIFY were no faster than one (bench/ledger.py, case 3).

So an append only pokes a `Waker`. A single background thread per event store
notices the poke, sends `NOTIFY shiplog_events` in its own tiny transaction
(which has no transaction id and so flushes nothing), and then pauses briefly so
that a burst of appends costs one notification. The notification is sent after
the events are committed, so a subscriber woken by it always finds them.
Notifications carry nothing and may be lost (a subscriber not yet listening, a
failed NOTIFY): subscribers re-select on every wake-up and also poll, so a lost
one costs latency, never an event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

CHANNEL = "shiplog_events"


class Waker:
    """Coalesces pokes into NOTIFYs sent from one background thread."""

    def __init__(self, send: Callable[[], None], *, pause_seconds: float = 0.005) -> None:
        self._send = send
        self._pause = pause_seconds
        self._poked = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def poke(self) -> None:
        """Ask for a wake-up notification soon; cheap, never blocks on the database."""
        self._poked.set()
        if self._thread is None:
            with self._start_lock:
                if self._thread is None and not self._closed.is_set():
                    self._thread = threading.Thread(
                        target=self._loop, name="shiplog-waker", daemon=True
                    )
                    self._thread.start()

    def close(self) -> None:
        """Send a last pending notification and stop the thread."""
        self._closed.set()
        self._poked.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            self._poked.wait()
            if self._closed.is_set() and not self._poked.is_set():
                return
            self._poked.clear()
            try:
                self._send()
            except Exception:  # a lost wake-up only delays subscribers, who also poll
                log.warning(
                    "could not notify subscribers; they will find the events by polling",
                    exc_info=True,
                )
            if self._closed.is_set():
                return
            self._closed.wait(self._pause)
