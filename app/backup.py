"""Backing a shiplog database up and restoring it, with PostgreSQL's own pg_dump and pg_restore.

A backup is `pg_dump --format=custom` of the whole database: the ledger, the sealed
tree, the side tables (logs, SBOMs, scan findings, attestations, secrets) and the
projections. A restore goes into an empty database, in one transaction (`--single-transaction`),
and then repairs what a dump cannot carry across clusters: the events' transaction
ids are rebased below the new cluster's counter (events/rebase.py, ADR 0001), the
schema is migrated if this shiplog is newer than the backup, and every projection
is rebuilt from the ledger (their rows hold copies of the old transaction ids).

The ledger's signing key is a file under SHIPLOG_HOME/keys, not in the database:
keep it with the backup, or `shiplog verify` cannot check the restored checkpoints.
The tools are those of the server's major version when Debian's are installed
(/usr/lib/postgresql/N/bin), else the embedded server's (the newest, which can dump
any older server). Restore into the same or a newer major version.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from app.database import embedded_tool, set_app_password
from app.projections import projector
from app.resources import migrations_dir
from events.errors import LedgerError
from events.migrations import migrate
from events.rebase import Rebase, rebase_transaction_ids
from events.store import EventStore

DEBIAN_TOOLS = Path("/usr/lib/postgresql")


class BackupError(LedgerError):
    """A backup or restore could not be made; the message says why and where."""


@dataclass(frozen=True)
class Restored:
    """What a restore did: the rebase of transaction ids, projections rebuilt (name → events)."""

    rebase: Rebase
    projections: dict[str, int]


def server_major(conninfo: str) -> int:
    """The major version of the server at `conninfo`, e.g. 15."""
    with psycopg.connect(conninfo) as conn:
        return int(conn.info.server_version) // 10000


def postgres_tool(name: str, major: int) -> Path:
    """`pg_dump` or `pg_restore` for a server of version `major`."""
    debian = DEBIAN_TOOLS / str(major) / "bin" / name
    return debian if debian.exists() else embedded_tool(name)


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(f"{what} failed: {detail[-1] if detail else f'exit {done.returncode}'}")


def backup_database(owner_url: str, file: Path) -> int:
    """Dump the database at `owner_url` into `file` (written whole, or not at all); its size."""
    partial = file.with_name(file.name + ".partial")
    tool = postgres_tool("pg_dump", server_major(owner_url))
    try:
        _run([str(tool), "--format=custom", f"--file={partial}", f"--dbname={owner_url}"],
             f"pg_dump into {file}")  # fmt: skip
        os.replace(partial, file)
    finally:
        partial.unlink(missing_ok=True)
    return file.stat().st_size


def restore_database(
    owner_url: str, app_url: str, app_role: str, file: Path, app_password: str | None = None
) -> Restored:
    """Restore `file` into the empty database at `owner_url`, then make it whole (see above).

    The application role is made (able to log in) if the cluster lacks it, and given
    `app_password` if one is given (the embedded server's), before it reads.
    """
    if not file.is_file():
        raise BackupError(f"no backup file {file}")
    with psycopg.connect(owner_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        if row is not None and row[0]:
            raise BackupError(
                f"the database {conn.info.dbname!r} already holds {row[0]} tables: "
                "restore into a new, empty database"
            )
        # The backup grants to the application role, a cluster-wide object it cannot carry.
        conn.execute(
            f"DO $$ BEGIN CREATE ROLE {sql.Identifier(app_role).as_string(conn)} "
            "LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
    tool = postgres_tool("pg_restore", server_major(owner_url))
    _run([str(tool), "--single-transaction", "--no-owner", f"--dbname={owner_url}", str(file)],
         f"pg_restore of {file}")  # fmt: skip
    with psycopg.connect(owner_url, autocommit=True) as conn:
        rebase = rebase_transaction_ids(conn)
    migrate(owner_url, migrations_dir())
    if app_password is not None:
        set_app_password(owner_url, app_role, app_password)
    with EventStore(app_url) as store:
        rebuilt = projector(store).rebuild()
    return Restored(rebase, rebuilt)
