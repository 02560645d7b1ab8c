"""Readiness: can the API reach the ledger, and is its schema up to date?"""

from __future__ import annotations

from pathlib import Path

from app.database import Database
from events.migrations import pending
from events.store import EventStore


def readiness(store: EventStore, database: Database, migrations_dir: Path) -> list[str]:
    """Names of migrations not yet applied; raises psycopg.Error if the database is down."""
    with store.connection() as conn:
        conn.execute("SELECT 1")
    return pending(database.owner_url, migrations_dir)


# A projection further behind than this many events makes /readyz answer 503:
# pages and queries would show a noticeably stale picture.
MAX_PROJECTION_LAG = 1000


def projections_behind(store: EventStore, max_lag: int = MAX_PROJECTION_LAG) -> dict[str, int]:
    """Projection → events it lags by, for each projection more than `max_lag` events behind."""
    from app.projections import projector  # app.projections imports the runs fold

    return {
        status.name: status.lag_events
        for status in projector(store).status()
        if status.state != "retired" and status.lag_events > max_lag
    }
