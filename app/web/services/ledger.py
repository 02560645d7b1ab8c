"""The ledger page: the latest signed checkpoint and the latest verification's verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.web.services.rows import one
from events.store import EventStore
from events.verifications import Verification, latest_verification


@dataclass(frozen=True)
class LedgerView:
    """The newest checkpoint (None before the first seal), the ledger's extent, the last check."""

    checkpoint: dict[str, Any] | None
    last_position: int
    verification: Verification | None

    @property
    def unsealed_estimate(self) -> int | None:
        """Events past the checkpoint, assuming positions without gaps (an estimate)."""
        if self.checkpoint is None:
            return None
        return max(0, self.last_position - int(self.checkpoint["tree_size"]))


def ledger_view(store: EventStore) -> LedgerView:
    """What the ledger page shows."""
    with store.connection() as conn:
        checkpoint = one(
            conn,
            "SELECT tree_size, encode(root, 'hex') AS root, origin, key_id, signed_at "
            "FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1",
        )
        last = one(conn, "SELECT coalesce(max(position), 0) AS last FROM events")
        verification = latest_verification(conn)
    return LedgerView(checkpoint, int(last["last"]) if last else 0, verification)
