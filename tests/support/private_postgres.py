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

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from app.database import Database, embedded_pid, start_embedded, stop_embedded
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
        return Database(owner_url=owner_url, app_role="shiplog_app", location=name)

    def close(self) -> None:
        """Stop the server if it runs, and delete it."""
        stop_embedded(self.home)
        shutil.rmtree(self.home, ignore_errors=True)
