"""`as_of`: answer a query from the events up to a past point of the ledger only.

A point is a ledger cursor (`tx_id:position`, as GET /api/events prints them) or a
time. A cursor is exact: the events at or before it in subscription order. A time
T is turned into a cursor once, here, so every query has one meaning of "then":
the longest prefix of the subscription order in which every event was recorded at
or before T. Why the longest such prefix and not "every event recorded by T":
positions are handed out in commit-ish order, not recorded_at order, so two
concurrent transactions can interleave, and "every event recorded by T" would not
be a prefix. A prefix is what projections are made of (a projection at a cursor is
exactly the fold of that prefix), and the prefix chosen never contains an event
recorded after T; at worst it leaves out an event recorded just before T that
sorts after one recorded just after it. A time at or after the ledger's horizon
gives the horizon: in-flight transactions may still add events "before" it, so an
answer as of a very recent time can still grow, like any live answer.

Projections answer as_of in one of two ways: history tables whose rows carry the
`tx_id` and `position` of the event that wrote them are filtered with
`(tx_id, position) <= (cursor)`; other projections are folded into temporary
tables up to the cursor (events.projections.fold_as_of).
"""

from __future__ import annotations

from datetime import datetime

from app.inputs import TimeOutOfRange, parse_time
from events.store import Cursor, EventStore

AsOf = Cursor | datetime

# Projection rows keep their event's cursor in bigint columns; no stored row is past this.
_LAST_ROW = (2**63 - 1, 2**63 - 1)


class AsOfError(ValueError):
    """An `as_of` value that is neither a cursor nor a time, with what was expected."""


def parse_as_of(text: str) -> AsOf:
    """A cursor (`tx_id:position`) or an ISO 8601 time (naive means UTC), else AsOfError."""
    value = text.strip()
    if ":" in value and value.replace(":", "").isdigit():
        try:
            return Cursor.parse(value)
        except ValueError as error:
            raise AsOfError(str(error)) from None
    try:
        return parse_time(value)
    except TimeOutOfRange as error:
        raise AsOfError(f"invalid as_of {text!r}: {error}") from None
    except ValueError:
        raise AsOfError(
            f"invalid as_of {text!r}: expected a ledger cursor TX_ID:POSITION (e.g. 812:40) "
            "or an ISO 8601 time (e.g. 2026-11-01T12:00:00Z)"
        ) from None


def resolve_as_of(store: EventStore, text: str | None) -> Cursor | None:
    """The cursor an `as_of` text stands for (None: now); AsOfError if it is malformed."""
    if text is None:
        return None
    return as_of_cursor(store, parse_as_of(text))


def row_bound(as_of: Cursor | None) -> tuple[int, int]:
    """The (tx_id, position) history rows must not exceed as of `as_of` (None: every row).

    Clamped to bigint, the type of projection tables' cursor columns: a cursor past
    every stored row keeps them all.
    """
    if as_of is None:
        return _LAST_ROW
    return min(as_of.tx_id, _LAST_ROW[0]), min(as_of.position, _LAST_ROW[1])


def as_of_cursor(store: EventStore, value: AsOf) -> Cursor:
    """The cursor `value` stands for: itself, or for a time the prefix described above."""
    return value if isinstance(value, Cursor) else store.cursor_at(value)
