"""`shiplog logs expire --older-than 90d`: old logs go whole, the ledger keeps every event.

Lines are stored as the owner with an old `logged_at` (the table refuses UPDATE, so
the age is given at INSERT): one log is 100 days old, one is new.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app
from app.database import Database
from app.projections import projector
from events.catalogue import Metadata
from events.store import NO_STREAM, EventStore
from events.vocabulary import StepFinished
from tests.support.factories import queued, step_started

META = Metadata(actor="alice", source="test")


def store_log(database: Database, run_id: str, step: str, lines: list[str], age: timedelta) -> None:
    at = datetime.now(UTC) - age
    with psycopg.connect(database.owner_url) as conn:
        for number, line in enumerate(lines, 1):
            conn.execute(
                "INSERT INTO step_logs (run_id, step, line_no, line, logged_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                (run_id, step, number, line, at),
            )


def count(database: Database, table: str) -> int:
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_logs_expire_removes_old_logs_whole_keeps_every_event_and_the_page_says_so(
    store: EventStore, database: Database, cli: CliRunner, client: TestClient
) -> None:
    run_id = str(uuid.uuid4())
    finished = [
        StepFinished(step=step, exit_code=0, duration_ms=5, log_sha256="0" * 64, log_lines=2)
        for step in ("old", "new")
    ]
    store.append(
        f"run-{run_id}",
        [queued(), step_started("old"), finished[0], step_started("new"), finished[1]],
        NO_STREAM,
        META,
    )
    store_log(database, run_id, "old", ["a", "b"], timedelta(days=100))
    store_log(database, run_id, "new", ["c", "d"], timedelta(days=1))
    events = count(database, "events")

    result = cli.invoke(app, ["logs", "expire", "--older-than", "90d"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("expired 1 logs (2 lines) last written before ")
    assert count(database, "step_logs") == 2  # the new log is whole
    assert count(database, "events") == events  # nothing in the ledger changed
    again = cli.invoke(app, ["logs", "expire", "--older-than", "90d"])
    assert again.output.startswith("expired 0 logs (0 lines)")

    projector(store).catch_up_all()
    page = client.get(f"/runs/{run_id}").text
    assert "Log expired on " in page and "its 2 lines were removed" in page
    assert page.count("Log expired on ") == 1

    bad = cli.invoke(app, ["logs", "expire", "--older-than", "ninety"])
    assert bad.exit_code != 0 and "--older-than 'ninety'" in str(bad.exception)
