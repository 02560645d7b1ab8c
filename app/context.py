"""What a command needs: settings, the database, a migrated schema, an event store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from app.config import Settings, get_settings
from app.database import Database, resolve
from events.migrations import migrate
from events.store import EventStore


@dataclass(frozen=True)
class Context:
    """The resolved settings and database of one shiplog process."""

    settings: Settings
    database: Database


def prepare(settings: Settings | None = None, *, run_migrations: bool = True) -> Context:
    """Resolve the database (starting the embedded one if needed) and migrate it."""
    settings = settings or get_settings()
    database = resolve(settings, announce=True)
    if run_migrations:
        migrate(database.owner_url, settings.migrations_dir)
    return Context(settings, database)


@contextmanager
def open_store(context: Context) -> Iterator[EventStore]:
    """An event store connected as the application role."""
    store = EventStore(
        context.database.app_url,
        max_event_bytes=context.settings.max_event_bytes,
        retry_seconds=context.settings.database_retry,
    )
    try:
        yield store
    finally:
        store.close()
