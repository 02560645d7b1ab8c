"""Apply migrations/NNNN_what.sql in order, once each, recording name and checksum.

Migrations run as the schema owner under a transaction-level advisory lock, so
two processes starting at once apply each file exactly once. Every file runs in
the same transaction as its bookkeeping row: a failing file leaves nothing
behind. A file edited after it was applied is refused rather than re-run,
because the database no longer matches what the file says.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from events.errors import MigrationError

_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")
# The advisory lock that serializes migrators: "SHIP" in ASCII.
_LOCK_KEY = 0x53484950


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """sha256 of the file's bytes."""
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def discover(directory: Path) -> list[Migration]:
    """The migration files in `directory`, in order, refusing stray or duplicate numbers."""
    if not directory.is_dir():
        raise MigrationError(f"migrations directory {directory} does not exist")
    found: list[Migration] = []
    numbers: dict[str, str] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.fullmatch(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files must be named NNNN_what.sql")
        number = match.group(1)
        if number in numbers:
            raise MigrationError(f"{path}: number {number} is also used by {numbers[number]}")
        numbers[number] = path.name
        found.append(Migration(path.name, path.read_text(encoding="utf-8")))
    return found


def applied(conn: psycopg.Connection[tuple[str, str]]) -> dict[str, str]:
    """Name → checksum of the migrations recorded in the database."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute("SELECT name, checksum FROM schema_migrations").fetchall()
    return {name: checksum for name, checksum in rows}


def migrate(owner_url: str, directory: Path) -> list[str]:
    """Bring the database up to date; return the names of the files applied now."""
    migrations = discover(directory)
    done: list[str] = []
    with psycopg.connect(owner_url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        recorded = applied(conn)
        on_disk = {m.name for m in migrations}
        for name in recorded:
            if name not in on_disk:
                raise MigrationError(
                    f"migration {name} is recorded in the database but missing from {directory}"
                )
        for migration in migrations:
            if migration.name in recorded:
                if recorded[migration.name] != migration.checksum:
                    raise MigrationError(
                        f"{directory / migration.name} was edited after it was applied "
                        f"(recorded sha256 {recorded[migration.name][:12]}…, file now "
                        f"{migration.checksum[:12]}…); add a new migration instead"
                    )
                continue
            try:
                conn.execute(migration.sql.encode("utf-8"))
            except psycopg.Error as error:
                raise MigrationError(f"{directory / migration.name}: {error}") from error
            conn.execute(
                "INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)",
                (migration.name, migration.checksum),
            )
            done.append(migration.name)
    return done


def pending(owner_url: str, directory: Path) -> list[str]:
    """Names of migration files not yet applied."""
    with psycopg.connect(owner_url) as conn:
        recorded = applied(conn)
    return [m.name for m in discover(directory) if m.name not in recorded]
