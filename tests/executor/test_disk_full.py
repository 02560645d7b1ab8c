"""A full disk under a run: the workspace, or the tablespace of the step logs.

Each disk is a tmpfs of a few hundred KiB mounted by the test (root, as the engine
needs anyway). Either way the run fails clearly, and the ledger holds whole events
only: every started step is closed, saying why.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from app.config import Settings
from app.database import Database
from app.executor.runner import Runner
from app.executor.runs import RunLedger
from app.queries.logs import read_log
from events.store import EventStore
from events.vocabulary import RunFailed, StepFinished, StepSkipped
from tests.support.invariant import assert_run_closed
from tests.support.runs import (
    BUSYBOX,
    commands_pipeline,
    fast_settings,
    make_repo,
    one,
    queue_detached,
    wait_until,
    working,
)

pytestmark = pytest.mark.usefixtures("leftover_guard")


@pytest.fixture
def small_disk() -> Iterator[Callable[[str, int], Path]]:
    """Mount tmpfs file systems of a given size; unmounted (and removed) after the test."""
    mounted: list[Path] = []

    def mount(name: str, kib: int) -> Path:
        if os.geteuid() != 0:
            pytest.fail("mounting a small disk needs root (as the Docker tests do)")
        where = Path(tempfile.mkdtemp(prefix=f"shiplog-{name}-"))
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={kib}k,mode=0755", f"shiplog-{name}", str(where)],
            check=True,
        )
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], check=False)
        where.rmdir()


def run_one(cli: CliRunner, store: EventStore, runner: Runner, repo: Path) -> str:
    run_id = queue_detached(cli, repo)
    with working(runner):
        wait_until(lambda: RunLedger(store).state(run_id).finished, timeout=120, what="the run")
    return run_id


def test_a_full_workspace_fails_the_step_that_filled_it_and_nothing_is_half_written(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    docker_client: Any,
    runners: Callable[[Settings, str], Runner],
    small_disk: Callable[[str, int], Path],
    tmp_path: Path,
) -> None:
    home = small_disk("home", 512)  # the runner's home, workspaces included
    pipeline = commands_pipeline(
        f"  - name: fill\n    image: {BUSYBOX}\n"
        "    commands: [dd if=/dev/zero of=/workspace/big bs=64k count=64]\n",
        f"  - name: after\n    image: {BUSYBOX}\n    commands: [echo never]\n",
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})
    run_id = run_one(cli, store, runners(fast_settings(home, database), "worker"), repo)

    events = assert_run_closed(store, run_id, engines=[docker_client])
    assert one(events, StepFinished, step="fill").exit_code != 0
    assert one(events, StepSkipped, step="after").reason == "an earlier step failed"
    assert events[-1].data == RunFailed(reason="step 'fill' failed", step="fill")
    log = [line.text for line in read_log(database.app_url, run_id, "fill")]
    assert any("No space left on device" in line for line in log)
    assert not (home / "work" / run_id).exists()  # the workspace is gone, the disk free again


@pytest.fixture
def tiny_tablespace(database: Database, small_disk: Callable[[str, int], Path]) -> Iterator[str]:
    """The step_logs table of the test's database moved to a 256 KiB tablespace."""
    where = small_disk("tablespace", 256)
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()
        assert data_dir is not None
        owner = Path(data_dir[0]).stat()
        os.chown(where, owner.st_uid, owner.st_gid)  # the server's own OS user
        name = f"shiplog_tiny_{os.getpid()}"
        conn.execute(
            sql.SQL("CREATE TABLESPACE {} LOCATION {}").format(
                sql.Identifier(name), sql.Literal(str(where))
            )
        )
        conn.execute(
            sql.SQL("ALTER TABLE step_logs SET TABLESPACE {}").format(sql.Identifier(name))
        )
        try:
            yield name
        finally:
            conn.execute("ALTER TABLE step_logs SET TABLESPACE pg_default")
            conn.execute(sql.SQL("DROP TABLESPACE {}").format(sql.Identifier(name)))


def test_a_full_log_tablespace_fails_the_step_whose_log_it_cannot_hold_and_keeps_events_whole(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    docker_client: Any,
    runners: Callable[[Settings, str], Runner],
    tiny_tablespace: str,
    tmp_path: Path,
) -> None:
    pipeline = commands_pipeline(
        f"  - name: noisy\n    image: {BUSYBOX}\n"
        "    commands: ['seq 1 20000 | sed s/$/-some-output-to-fill-the-log-table/']\n",
        f"  - name: after\n    image: {BUSYBOX}\n    commands: [echo never]\n",
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})
    run_id = run_one(cli, store, runners(fast_settings(tmp_path / "home", database), "w"), repo)

    events = assert_run_closed(store, run_id, engines=[docker_client])
    noisy = one(events, StepFinished, step="noisy")
    assert noisy.exit_code == 0  # the step itself did its work...
    assert (noisy.log_sha256, noisy.log_lines) == (None, None)  # ...but its log is not kept
    assert noisy.reason == "log not stored (DiskFull)"
    assert events[-1].data == RunFailed(reason="step 'noisy' failed", step="noisy")
