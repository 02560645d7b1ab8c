"""Readiness: can the ledger be reached, is its schema up to date, are projections near its head?"""

from __future__ import annotations

from pathlib import Path

from app.database import Database
from app.projections import projector
from events.migrations import pending
from events.store import EventStore

# A projection further behind than this many events makes /readyz answer 503:
# pages and queries would show a noticeably stale picture.
MAX_PROJECTION_LAG = 1000


def pending_migrations(store: EventStore, database: Database, migrations_dir: Path) -> list[str]:
    """Names of migrations not yet applied; raises psycopg.Error if the database is down."""
    store.head()
    return pending(database.app_url, migrations_dir)


def projections_behind(store: EventStore, max_lag: int = MAX_PROJECTION_LAG) -> dict[str, int]:
    """Projection → events it lags by, for each projection more than `max_lag` events behind."""
    return {
        status.name: status.lag_events
        for status in projector(store).status()
        if status.state != "retired" and status.lag_events > max_lag
    }
