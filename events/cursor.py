"""Cursors: places in the subscription order, as every reader of the ledger counts them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# The largest values a cursor can carry: events.tx_id is xid8, events.position bigint.
MAX_TX_ID: Final = 2**64 - 1
MAX_POSITION: Final = 2**63 - 1


@dataclass(frozen=True, order=True)
class Cursor:
    """A place in the subscription order: (writing transaction id, position)."""

    tx_id: int
    position: int

    def __str__(self) -> str:
        return f"{self.tx_id}:{self.position}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """Read a cursor printed as `tx_id:position`; ValueError if malformed or out of range."""
        tx_id, sep, position = text.partition(":")
        if not sep or not tx_id.isdigit() or not position.isdigit():
            raise ValueError(f"invalid cursor {text!r}: expected TX_ID:POSITION, e.g. 812:40")
        cursor = cls(int(tx_id), int(position))
        if cursor.tx_id > MAX_TX_ID or cursor.position > MAX_POSITION:
            raise ValueError(f"invalid cursor {text!r}: out of range")
        return cursor


START: Final = Cursor(0, 0)


def cursor_condition(operator: str) -> str:
    """SQL comparing an event's (tx_id, position) with a cursor: `>` for after, `<` for before.

    The cursor's tx_id is taken from the event at its position when there is one: a
    cursor is the place of the last event a reader saw, positions survive a dump and
    restore while tx_ids are rebased (events/rebase.py), so a cursor from before a
    restore still means "after that event". Parameters: `cursor_params(cursor)`.
    """
    if operator not in (">", "<"):
        raise ValueError(f"operator must be > or <, not {operator!r}")
    resolved = "coalesce((SELECT c.tx_id FROM events c WHERE c.position = %s), %s::text::xid8)"
    return f"(tx_id, position) {operator} ({resolved}, %s)"


def cursor_params(cursor: Cursor) -> tuple[int, str, int]:
    """The parameters of `cursor_condition` for `cursor`."""
    return (cursor.position, str(cursor.tx_id), cursor.position)
