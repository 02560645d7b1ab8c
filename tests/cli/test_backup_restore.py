"""`shiplog backup` and `shiplog restore` into a fresh cluster, whose transaction ids start lower.

The source is the suite's server; its transaction counter is first moved well past a
fresh cluster's, and two writers interleave so that the subscription order (tx_id,
position) differs from the position order. The target is a new cluster of the same
kind: shiplog's embedded server, or, when the suite runs on Debian's PostgreSQL 15, a
new PostgreSQL 15 cluster. After the restore: `shiplog verify` passes, every
projection rebuilds equal, a subscriber's cursor from before the backup resumes
without missing or repeating an event, and new events sort after the restored ones.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings, get_settings
from app.database import Database
from app.keys import load_or_create_signing_key
from app.projections import PROJECTIONS, projector
from events.catalogue import Metadata
from events.projections import table_checksums
from events.rebase import burn_transaction_ids, current_transaction_id
from events.sealer import seal_all
from events.store import ANY, EventStore, RecordedEvent
from events.vocabulary import StepSkipped
from tests.support.factories import queued, step_finished, step_started
from tests.support.private_postgres import fresh_cluster_like, restored_app_url

META = Metadata(actor="alice", source="test")


def skipped(n: int) -> StepSkipped:
    return StepSkipped(step=f"s{n}", reason="x")


def fill(store: EventStore, database: Database) -> None:
    """Runs and steps, then two writers whose transaction order differs from insert order."""
    for n in range(5):
        run = f"run-{uuid.uuid4()}"
        store.append(run, [queued(), step_started("build")], ANY, META)
        store.append(run, [step_finished("build", n % 2)], ANY, META)
    with store.transaction() as early:  # takes its transaction id first...
        early.append(f"run-{uuid.uuid4()}", [skipped(1)], ANY, META)
        store.append(f"run-{uuid.uuid4()}", [skipped(2)], ANY, META)  # ...commits after this one
        early.append(f"run-{uuid.uuid4()}", [skipped(3)], ANY, META)


@pytest.fixture
def target(admin_url: str) -> Iterator[tuple[dict[str, str], Path]]:
    """A fresh cluster like the suite's: (environment for `shiplog`, its home)."""
    with fresh_cluster_like(admin_url) as made:
        yield made


def checksums(store: EventStore) -> dict[str, dict[str, str]]:
    with psycopg.connect(store.conninfo) as conn:
        return {p.name: table_checksums(conn, p) for p in PROJECTIONS}


def test_a_backup_restored_into_a_fresh_cluster_verifies_rebuilds_equal_and_keeps_cursors(
    store: EventStore,
    database: Database,
    settings: Settings,
    cli: CliRunner,
    target: tuple[dict[str, str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        burn_transaction_ids(conn, max(0, 5000 - current_transaction_id(conn)))
    fill(store, database)
    seal_all(database.app_url, load_or_create_signing_key(settings))
    before = store.read_all()
    assert [e.cursor for e in before] != sorted(before, key=lambda e: e.position)  # interleaved
    cursor = before[6].cursor  # a subscriber read this far before the backup
    projector(store).catch_up_all()
    source_sums = checksums(store)

    backup = tmp_path / "shiplog.backup"
    made = cli.invoke(app, ["backup", str(backup)])
    assert made.exit_code == 0, made.output
    assert backup.stat().st_size > 0

    environment, home = target
    monkeypatch.delenv("SHIPLOG_DATABASE_URL", raising=False)
    monkeypatch.delenv("SHIPLOG_OWNER_DATABASE_URL", raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SHIPLOG_HOME", str(home))
    shutil.copytree(settings.key_dir, home / "keys")  # the signing key travels with the backup
    get_settings.cache_clear()
    restored = cli.invoke(app, ["restore", str(backup)])
    assert restored.exit_code == 0, f"{restored.output}\n{restored.exception!r}"
    assert "events rebased" in restored.output
    verified = cli.invoke(app, ["verify"])
    assert verified.exit_code == 0, verified.output

    with EventStore(restored_app_url(environment, home)) as copy:
        after = copy.read_all()
        assert [e.event_id for e in after] == [e.event_id for e in before]  # the same order
        assert max(e.tx_id for e in after) < min(e.tx_id for e in before)  # rebased below
        resumed = copy.read_all(after=cursor)  # the old cursor: the rest, once each
        assert [e.event_id for e in resumed] == [e.event_id for e in before[7:]]
        rebuilt = checksums(copy)  # rebuilt by the restore
        assert rebuilt["runs"] == source_sums["runs"]  # the same rows as the source's
        projector(copy).rebuild()
        assert checksums(copy) == rebuilt  # and a rebuild gives them again, every one
        new = copy.append(f"run-{uuid.uuid4()}", [skipped(4)], ANY, META)
        latest: list[RecordedEvent] = copy.read_all(after=after[-1].cursor)
        assert [e.position for e in latest] == new  # a new event sorts after them all
    again = cli.invoke(app, ["restore", str(backup)])
    assert again.exit_code != 0 and "already holds" in str(again.exception)
    get_settings.cache_clear()
