"""The ledger's state: the latest signed checkpoint, how far it reaches, the last verdict."""

from __future__ import annotations

from dataclasses import dataclass

from events.lookups import CheckpointSummary
from events.store import EventStore
from events.verifications import Verification


@dataclass(frozen=True)
class LedgerStatus:
    """The newest checkpoint (None before the first seal), the ledger's extent, the last check."""

    checkpoint: CheckpointSummary | None
    last_position: int
    verification: Verification | None

    @property
    def unsealed_estimate(self) -> int | None:
        """Events past the checkpoint, assuming positions without gaps (an estimate)."""
        if self.checkpoint is None:
            return None
        return max(0, self.last_position - self.checkpoint.tree_size)


def ledger_status(store: EventStore) -> LedgerStatus:
    """What the ledger holds and what was last proven about it."""
    return LedgerStatus(
        store.latest_checkpoint(), store.head().position, store.latest_verification()
    )
