"""Test databases: copies of a template, made in tens of milliseconds and dropped after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from app.database import Database, login_as
from tests.support.access import TEST_APP_PASSWORD
from tests.support.servers import with_dbname


@contextmanager
def copied_database(
    admin_url: str, template: str, prefix: str = "shiplog_test"
) -> Iterator[Database]:
    """A new database copied from `template` (CREATE DATABASE … TEMPLATE), dropped on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    owner_url = with_dbname(admin_url, name)
    app_url = login_as(owner_url, "shiplog_app", TEST_APP_PASSWORD)
    try:
        yield Database(app_url=app_url, owner_url=owner_url, location=name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def disconnect_everyone(admin_url: str, database: str) -> None:
    """End every session on `database`, so it can serve as a template (no one may be on it)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )
