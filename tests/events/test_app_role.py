"""The application's connection cannot rewrite history, whatever SQL it runs.

shiplog_app logs in as itself (not as the owner switching roles), so it cannot
switch back to the owner or a superuser, cannot disable or drop the triggers that
keep the ledger append-only, and cannot UPDATE, DELETE or TRUNCATE events. And
shiplog refuses to run on a connection that could.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.context import prepare
from app.database import Database
from app.server import create_app
from events.catalogue import Metadata
from events.privileges import PrivilegedConnection, refuse_privileged
from events.store import ANY, EventStore
from tests.support.factories import queued

ATTEMPTS = [
    "SET ROLE {owner}",
    "SET SESSION AUTHORIZATION {owner}",
    "SET session_replication_role = replica",
    "ALTER TABLE events DISABLE TRIGGER events_reject_update_delete",
    "ALTER TABLE events DISABLE TRIGGER ALL",
    "DROP TRIGGER events_reject_update_delete ON events",
    "UPDATE events SET data = '{{}}'::jsonb",
    "DELETE FROM events",
    "TRUNCATE events",
    "DELETE FROM ledger_leaves",
    "ALTER ROLE shiplog_app SUPERUSER",
    "GRANT {owner} TO shiplog_app",
]


@pytest.fixture
def owner(database: Database) -> str:
    """The role that owns the ledger (the admin of the test server)."""
    assert database.owner_url is not None
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'events'")
        found = row.fetchone()
    assert found is not None
    return str(found[0])


def test_the_application_logs_in_as_its_own_role_not_as_the_owner(database: Database) -> None:
    with psycopg.connect(database.app_url) as conn:
        row = conn.execute("SELECT session_user, current_user").fetchone()
    assert row == ("shiplog_app", "shiplog_app")


@pytest.mark.parametrize("statement", ATTEMPTS)
def test_the_application_connection_cannot_escape_its_role_or_touch_history(
    database: Database, store: EventStore, owner: str, statement: str
) -> None:
    store.append("run-1", [queued("1" * 40)], ANY, Metadata(actor="alice"))
    before = store.read_all()
    with psycopg.connect(database.app_url, autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as refused:
            conn.execute(statement.format(owner=owner))  # type: ignore[arg-type]
        assert isinstance(refused.value, psycopg.errors.InsufficientPrivilege), refused.value
        assert conn.execute("SELECT current_user").fetchone() == ("shiplog_app",)
    assert store.read_all() == before


def test_shiplog_refuses_a_database_url_that_logs_in_as_the_owner(
    database: Database, tmp_path: Path
) -> None:
    assert database.owner_url is not None
    with pytest.raises(PrivilegedConnection, match="SHIPLOG_OWNER_DATABASE_URL"):
        refuse_privileged(database.owner_url)
    settings = Settings(home=tmp_path, database_url=database.owner_url)
    with pytest.raises(PrivilegedConnection, match="logs in as"):
        prepare(settings)
    with pytest.raises(PrivilegedConnection), TestClient(create_app(settings)):
        pass


def test_the_application_role_passes_the_check(database: Database) -> None:
    refuse_privileged(database.app_url)  # no error: it may only read and add
