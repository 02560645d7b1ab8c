"""Ages given on the command line: `90d`, `12h`, `30m`, `2w`."""

from __future__ import annotations

from datetime import timedelta

from events.errors import LedgerError

AGE_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str, option: str) -> timedelta:
    """An age like `90d`, `12h`, `30m` or `2w`; LedgerError naming `option` otherwise."""
    number, unit = text[:-1], text[-1:]
    if not number.isdigit() or unit not in AGE_UNITS or int(number) <= 0:
        raise LedgerError(f"{option} {text!r}: expected a positive age like 90d, 12h, 30m, 2w")
    return timedelta(seconds=int(number) * AGE_UNITS[unit])
