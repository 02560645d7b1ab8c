"""Refused writes, recorded: AccessDenied in `access-<actor>`, at a bounded rate.

Every refused write is worth knowing about (a token used for what it may not do,
a forged or revoked credential), but a caller who sends thousands must not fill
the ledger. Each actor gets at most `per_minute` AccessDenied a minute, and all
actors together ten times that; the refusals not recorded are counted and the
count rides on the actor's next recorded AccessDenied (`suppressed`). The limit
is per server process: N processes record at most N times as many.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from app.services.access import Forbidden
from events.catalogue import Metadata
from events.errors import LedgerError
from events.store import ANY, EventStore
from events.vocabulary import AccessDenied

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
EVERYONE = "*"  # the limiter's key for all actors together
MAX_TRACKED = 10_000  # actors remembered at once; older windows are dropped first


class RefusalLimiter:
    """Fixed one-minute windows: per actor, and for everyone together."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.overall = per_minute * 10
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}
        self._suppressed: dict[str, int] = {}

    def admit(self, actor: str) -> int | None:
        """None if this refusal of `actor` is only counted; else how many were, before it."""
        now = self._clock()
        with self._lock:
            if len(self._windows) > MAX_TRACKED:
                self._forget_before(now - WINDOW_SECONDS)
            if not (
                self._room(EVERYONE, self.overall, now) and self._room(actor, self.per_minute, now)
            ):
                self._suppressed[actor] = self._suppressed.get(actor, 0) + 1
                return None
            for key in (EVERYONE, actor):
                start, count = self._windows[key]
                self._windows[key] = (start, count + 1)
            return self._suppressed.pop(actor, 0)

    def _room(self, key: str, limit: int, now: float) -> bool:
        """True if `key`'s current window has room; opens a new window when the last is over."""
        start, count = self._windows.get(key, (now, 0))
        if now - start >= WINDOW_SECONDS:
            start, count = now, 0
        self._windows[key] = (start, count)
        return count < limit

    def _forget_before(self, moment: float) -> None:
        """Drop the windows that started before `moment` (their actors start afresh)."""
        for key in [k for k, (start, _) in self._windows.items() if start < moment]:
            del self._windows[key]


def record_refusal(
    store: EventStore,
    limiter: RefusalLimiter,
    refusal: Forbidden,
    *,
    client: str | None = None,
    source: str = "api",
) -> bool:
    """Append AccessDenied for `refusal` unless the rate limit holds it back; True if written."""
    principal = refusal.principal
    suppressed = limiter.admit(principal.actor)
    if suppressed is None:
        return False
    denied = AccessDenied(
        action=refusal.action,
        reason=refusal.reason,
        credential=principal.credential,
        needed=tuple(role.value for role in refusal.needed),
        client=client,
        suppressed=suppressed,
    )
    try:
        store.append(
            f"access-{principal.actor}",
            [denied],
            ANY,
            Metadata(actor=principal.actor, source=source),
        )
    except LedgerError as error:  # e.g. an actor that cannot name a stream: log, still refuse
        log.warning("could not record AccessDenied for %r: %s", principal.actor, error)
        return False
    return True
