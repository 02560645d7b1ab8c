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
