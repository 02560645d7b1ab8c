"""Fixtures: a real PostgreSQL server and a fresh, migrated database for every test.

The server is the one SHIPLOG_TEST_DATABASE_URL names (an admin URL: it must be
allowed to create databases), or else shiplog's embedded server kept under
.test-home/ in the checkout. Each session migrates one template database once;
each test gets a copy of it (CREATE DATABASE ... TEMPLATE), which costs tens of
milliseconds instead of a migration run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from app.config import PROJECT_ROOT, Settings
from app.database import Database, start_embedded
from events.migrations import migrate
from events.store import EventStore

TEMPLATE = "shiplog_test_template"
TEST_HOME = PROJECT_ROOT / ".test-home"


def with_dbname(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def admin_url() -> str:
    """Admin URL of the PostgreSQL server the tests use."""
    url = os.environ.get("SHIPLOG_TEST_DATABASE_URL")
    if url:
        return url
    return start_embedded(TEST_HOME)


@pytest.fixture(scope="session")
def template_database(admin_url: str) -> str:
    """A freshly migrated template database, rebuilt once per session."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    migrate(with_dbname(admin_url, TEMPLATE), PROJECT_ROOT / "migrations")
    return TEMPLATE


@pytest.fixture
def database(admin_url: str, template_database: str) -> Iterator[Database]:
    """A new database copied from the migrated template, dropped after the test."""
    name = f"shiplog_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_database)
            )
        )
    owner_url = with_dbname(admin_url, name)
    yield Database(owner_url=owner_url, app_role="shiplog_app", location=name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def store(database: Database) -> Iterator[EventStore]:
    """An event store connected as the application role."""
    with EventStore(database.app_url) as event_store:
        yield event_store


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    """Settings pointing at the test database, with a private home directory."""
    return Settings(home=tmp_path / "home", database_url=database.owner_url)
