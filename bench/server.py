"""The PostgreSQL server a benchmark uses, its fresh databases, and stopping it at the end."""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import uuid4

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from app.database import Database, embedded_pid, login_as, start_embedded, stop_embedded
from app.resources import migrations_dir
from bench.paths import BENCH_HOME
from events.migrations import migrate


def bench_admin_url() -> str:
    """SHIPLOG_BENCH_DATABASE_URL, else the embedded server under .bench-home/.

    An embedded server this process started is stopped when the process exits, so a
    benchmark leaves no server running that was not running before it.
    """
    url = os.environ.get("SHIPLOG_BENCH_DATABASE_URL")
    if url:
        return url
    started = embedded_pid(BENCH_HOME) is None
    url = start_embedded(BENCH_HOME)
    if started:
        atexit.register(stop_embedded, BENCH_HOME)
    return url


@contextmanager
def fresh_database(admin_url: str, bench: str) -> Iterator[Database]:
    """A new, migrated database for `bench` (the app logs in as shiplog_app), dropped after."""
    name = f"shiplog_bench_{bench}_{uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    owner_url = make_conninfo(admin_url, dbname=name)
    try:
        migrate(owner_url, migrations_dir())
        yield Database(login_as(owner_url, "shiplog_app"), owner_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))
