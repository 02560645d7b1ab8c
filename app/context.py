"""What a command needs: settings, the database, a migrated schema, an event store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from app.config import Settings, get_settings
from app.database import Database, embedded_app_password, resolve, set_app_password
from events.errors import MigrationError
from events.migrations import migrate, pending
from events.privileges import refuse_privileged
from events.store import EventStore


@dataclass(frozen=True)
class Context:
    """The resolved settings and database of one shiplog process."""

    settings: Settings
    database: Database


def prepare(settings: Settings | None = None, *, run_migrations: bool = True) -> Context:
    """Resolve the database (starting the embedded one if needed), migrated and safe to use.

    The embedded server is shiplog's own: it is migrated as its owner and the
    application role's password set. A server of your own is migrated only by
    `shiplog migrate`; here pending migrations are an error saying so. Either
    way the application's connection must not be able to rewrite the ledger.
    """
    settings = settings or get_settings()
    database = resolve(settings, announce=True)
    context = Context(settings, database)
    if not run_migrations:
        return context
    if database.embedded:
        migrate_as_owner(context)
    else:
        waiting = pending(database.app_url, settings.migrations_dir)
        if waiting:
            raise MigrationError(
                f"the database needs {len(waiting)} migration(s) ({', '.join(waiting)}): run "
                "`shiplog migrate` with the owner's URL in SHIPLOG_OWNER_DATABASE_URL"
            )
    refuse_privileged(database.app_url)
    return context


def migrate_as_owner(context: Context) -> list[str]:
    """Apply the pending migrations as the owner; the names applied now.

    On the embedded server, also (re)sets the application role's password.
    """
    database, settings = context.database, context.settings
    owner_url = owner_url_for(database, "migrating")
    applied = migrate(owner_url, settings.migrations_dir)
    if database.embedded:
        password = embedded_app_password(settings.home)
        set_app_password(owner_url, settings.app_role, password)
    return applied


def owner_url_for(database: Database, what: str) -> str:
    """The owner's URL, which `what` (migrating, a backup) needs; MigrationError if unknown."""
    if database.owner_url is None:
        raise MigrationError(
            f"{what} needs the URL of the schema's owner: set SHIPLOG_OWNER_DATABASE_URL "
            "(SHIPLOG_DATABASE_URL is the application role's, which may not change the schema)"
        )
    return database.owner_url


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
