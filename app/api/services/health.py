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
