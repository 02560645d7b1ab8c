"""Migrations apply in order, once each, and refuse an edited file."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from app.resources import migrations_dir
from events.errors import MigrationError
from events.migrations import discover, migrate, pending
from tests.support.servers import with_dbname


@pytest.fixture
def empty_url(admin_url: str) -> str:
    name = "shiplog_test_empty_migrations"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_dbname(admin_url, name)


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), target)
    return target


def test_migrate_applies_every_file_once_in_order(empty_url: str, migrations_copy: Path) -> None:
    names = [m.name for m in discover(migrations_copy)]
    assert migrate(empty_url, migrations_copy) == names
    assert migrate(empty_url, migrations_copy) == []
    assert pending(empty_url, migrations_copy) == []
    with psycopg.connect(empty_url) as conn:
        recorded = conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
    assert [row[0] for row in recorded] == names


def test_an_edited_applied_migration_is_refused(empty_url: str, migrations_copy: Path) -> None:
    migrate(empty_url, migrations_copy)
    edited = migrations_copy / "0002_events.sql"
    edited.write_text(edited.read_text() + "\n-- an innocent comment\n")
    with pytest.raises(MigrationError, match=r"0002_events\.sql was edited after it was applied"):
        migrate(empty_url, migrations_copy)


def test_a_failing_migration_leaves_nothing_behind(empty_url: str, migrations_copy: Path) -> None:
    (migrations_copy / "9000_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n"
    )
    with pytest.raises(MigrationError, match=r"9000_broken\.sql.*no_such_table"):
        migrate(empty_url, migrations_copy)
    with psycopg.connect(empty_url) as conn:
        row = conn.execute("SELECT to_regclass('half_done'), to_regclass('events')").fetchone()
    assert row == (None, None)


def test_badly_named_files_are_refused(migrations_copy: Path) -> None:
    (migrations_copy / "add_stuff.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_what\.sql"):
        discover(migrations_copy)


def test_a_new_migration_is_pending_until_applied(empty_url: str, migrations_copy: Path) -> None:
    migrate(empty_url, migrations_copy)
    (migrations_copy / "9001_extra.sql").write_text("CREATE TABLE extra (id int);")
    assert pending(empty_url, migrations_copy) == ["9001_extra.sql"]
    assert migrate(empty_url, migrations_copy) == ["9001_extra.sql"]
