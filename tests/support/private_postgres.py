"""A PostgreSQL server of the test's own, to stop and start again without touching any other.

Restarting the server every suite shares would break their tests at random, so a
test that restarts PostgreSQL gets shiplog's embedded server under a home of its own
(a temporary directory): started, stopped and started again through the same
functions `shiplog` uses (app/database.py).

The home is a new directory in /tmp, not under pytest's tmp_path: as root the
server runs as another user, who must be able to reach its data directory, and
every pytest session on the machine (other suites' too) resets its own base
directory, /tmp/pytest-of-root, to mode 0700 when it starts.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from app.backup import server_major
from app.database import (
    EMBEDDED_DATABASE,
    Database,
    embedded_app_password,
    embedded_pid,
    login_as,
    start_embedded,
    stop_embedded,
)
from app.resources import migrations_dir
from events.migrations import migrate
from tests.support.servers import with_dbname


@dataclass
class PrivateServer:
    """The embedded server under `home`, its admin URL while it runs."""

    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="shiplog-pg-")))
    admin_url: str = ""

    def start(self) -> PrivateServer:
        """Start the server (again) and wait until it answers."""
        self.admin_url = start_embedded(self.home)
        return self

    def stop(self) -> None:
        """Stop it fast (clients disconnected), as `shiplog db stop` does; check it is gone."""
        assert stop_embedded(self.home)
        assert embedded_pid(self.home) is None

    def restart(self, down_seconds: float) -> None:
        """Stop it, stay down `down_seconds`, start it again."""
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def database(self, name: str) -> Database:
        """A new migrated database `name` on this server."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        owner_url = with_dbname(self.admin_url, name)
        migrate(owner_url, migrations_dir())
        # The embedded server trusts its own socket: shiplog_app logs in without a password.
        app_url = login_as(owner_url, "shiplog_app")
        return Database(app_url=app_url, owner_url=owner_url, location=name)

    def close(self) -> None:
        """Stop the server if it runs, and delete it."""
        stop_embedded(self.home)
        shutil.rmtree(self.home, ignore_errors=True)


class PrivateDebianServer:
    """A fresh cluster of Debian's PostgreSQL `major` (initdb, pg_ctl) on a loopback port.

    Runs as the `postgres` OS user in a new directory in /tmp; trust authentication.
    """

    def __init__(self, major: int = 15) -> None:
        self.bin = Path(f"/usr/lib/postgresql/{major}/bin")
        if not (self.bin / "initdb").exists():
            pytest.fail(f"Debian's PostgreSQL {major} is not installed (.ci/run installs it)")
        self.root = Path(tempfile.mkdtemp(prefix=f"shiplog-pg{major}-"))
        shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_postgres(f"{self.bin}/initdb -D {self.data} -A trust -U postgres")
        self._as_postgres(
            f"{self.bin}/pg_ctl -D {self.data} -l {self.root}/log -w -o "
            f"'-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1' start"
        )
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, command: str) -> None:
        subprocess.run(
            ["su", "postgres", "-s", "/bin/sh", "-c", command], check=True, capture_output=True
        )

    def create_database(self, name: str) -> str:
        """An empty database `name`; its owner URL."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return with_dbname(self.admin_url, name)

    def close(self) -> None:
        """Stop the cluster and delete it."""
        self._as_postgres(f"{self.bin}/pg_ctl -D {self.data} -m fast -w stop")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def fresh_cluster_like(admin_url: str) -> Iterator[tuple[dict[str, str], Path]]:
    """A new cluster of the suite's kind to restore into: (environment for `shiplog`, home).

    Shiplog's embedded server under a home of its own, or, when the suite runs on
    Debian's PostgreSQL 15, a new PostgreSQL 15 cluster; deleted afterwards.
    """
    if server_major(admin_url) == 15:
        debian = PrivateDebianServer(15)
        try:
            url = debian.create_database("restored")
            app_url = login_as(url, "shiplog_app")  # the fresh cluster trusts local connections
            environment = {"SHIPLOG_DATABASE_URL": app_url, "SHIPLOG_OWNER_DATABASE_URL": url}
            yield environment, Path(debian.root) / "home"
        finally:
            debian.close()
    else:
        embedded = PrivateServer().start()
        try:
            yield {}, embedded.home
        finally:
            embedded.close()


def restored_app_url(environment: dict[str, str], home: Path) -> str:
    """The application role's URL on the database `shiplog restore` filled (fresh_cluster_like)."""
    if "SHIPLOG_DATABASE_URL" in environment:
        return environment["SHIPLOG_DATABASE_URL"]
    owner_url = with_dbname(start_embedded(home), EMBEDDED_DATABASE)
    return login_as(owner_url, "shiplog_app", embedded_app_password(home))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
