"""The ledger's tables cannot be changed: no privilege for the application, triggers for all."""

from __future__ import annotations

import psycopg
import pytest

from app.database import Database
from events.store import NO_STREAM, EventStore
from tests.support.factories import ALICE, queued

CHANGES = [
    "UPDATE events SET data = '{}'::jsonb",
    "DELETE FROM events",
    "TRUNCATE events",
]


@pytest.mark.parametrize("statement", CHANGES)
def test_application_role_may_not_change_events(
    store: EventStore, database: Database, statement: str
) -> None:
    store.append("run-1", [queued()], NO_STREAM, ALICE)
    with (
        psycopg.connect(database.app_url) as conn,
        pytest.raises(
            psycopg.errors.InsufficientPrivilege, match="permission denied for table events"
        ),
    ):
        conn.execute(statement)


@pytest.mark.parametrize("statement", CHANGES)
def test_even_the_owner_is_stopped_by_triggers_naming_the_table(
    store: EventStore, database: Database, statement: str
) -> None:
    store.append("run-1", [queued()], NO_STREAM, ALICE)
    with (
        psycopg.connect(database.owner_url) as conn,
        pytest.raises(
            psycopg.errors.InsufficientPrivilege, match='on table "events" is not allowed'
        ),
    ):
        conn.execute(statement)


@pytest.mark.parametrize("table", ["ledger_leaves", "ledger_checkpoints"])
def test_seal_tables_are_append_only_too(database: Database, table: str) -> None:
    with (
        psycopg.connect(database.owner_url) as conn,
        pytest.raises(
            psycopg.errors.InsufficientPrivilege, match=f'on table "{table}" is not allowed'
        ),
    ):
        conn.execute(f"TRUNCATE {table}")


def test_application_role_really_is_the_restricted_role(database: Database) -> None:
    with psycopg.connect(database.app_url) as conn:
        row = conn.execute(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == ("shiplog_app", False)
