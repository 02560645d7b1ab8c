"""Ages given on the command line: `90d`, `12h`, `30m`, `2w`."""

from __future__ import annotations

from datetime import timedelta

from app.velocity.periods import age_length
from events.errors import LedgerError


def parse_age(text: str, option: str) -> timedelta:
    """An age like `90d`, `12h`, `30m` or `2w`; LedgerError naming `option` otherwise."""
    age = age_length(text)
    if age is None or age <= timedelta(0):
        raise LedgerError(f"{option} {text!r}: expected a positive age like 90d, 12h, 30m, 2w")
    return age
