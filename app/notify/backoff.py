"""When to try a failed notification again: exponential backoff with jitter, up to a cap.

The n-th retry waits `base * 2^(n-1)`, capped, then a random part of that ("equal
jitter": between half and all of it), so that receivers coming back after an outage
are not hit by every sender at the same instant. A receiver's `Retry-After` is honoured
when it asks for longer (up to `max_retry_after`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """The retry schedule of notifications."""

    base: float = 5.0
    cap: float = 3600.0
    attempts: int = 8
    max_retry_after: float = 6 * 3600.0

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after failed attempt number `attempt` (from 1)."""
        ceiling = float(min(self.cap, self.base * 2.0 ** (attempt - 1)))
        wait = ceiling / 2 + float((rng or random).uniform(0, ceiling / 2))
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait
