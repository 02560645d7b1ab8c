"""A record of each ledger verification (migrations/0022_ledger_verifications.sql)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

if TYPE_CHECKING:  # verify reads through the store, which reads verdicts from here
    from events.verify import Report


@dataclass(frozen=True)
class Verification:
    """One recorded verification: when, by whom, and its verdict."""

    verified_at: datetime
    actor: str
    ok: bool
    events: int
    leaves: int
    checkpoints: int
    unsealed: int
    mismatches: int
    first_failure: str | None


def record_verification(conninfo: str, report: Report, actor: str) -> None:
    """Add `report`'s verdict, as run by `actor`, to ledger_verifications."""
    first = report.first
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ledger_verifications (actor, ok, events, leaves, checkpoints, "
            "unsealed, mismatches, first_failure) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                actor,
                report.ok,
                report.events,
                report.leaves,
                report.checkpoints,
                report.unsealed,
                len(report.failures) + report.more_failures,
                None if first is None else str(first),
            ),
        )


def latest_verification(conn: psycopg.Connection[Any]) -> Verification | None:
    """The most recent verification recorded, or None if the ledger was never verified."""
    row = conn.execute(
        "SELECT verified_at, actor, ok, events, leaves, checkpoints, unsealed, mismatches, "
        "first_failure FROM ledger_verifications ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return None if row is None else Verification(*row)
