"""The HTTP API over a real PostgreSQL: probes, identity and the audit query."""

from __future__ import annotations

import csv
import io
import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import typer
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.api.csv_bodies import EVENT_COLUMNS as CSV_COLUMNS
from app.cli import serve_command
from app.config import Settings
from app.database import Database
from app.server import create_app
from app.services.access import Role
from events.catalogue import Metadata
from events.store import ANY, EventStore, RecordedEvent
from events.vocabulary import Commit, CommitsPushed
from tests.support.access import token
from tests.support.factories import queued, step_finished, step_started

ALICE = Metadata(actor="alice", source="test", correlation_id="run-1")
BOB = Metadata(actor="bob@example.com", source="test", correlation_id="run-2")
SECRET_REPOSITORY = "https://x-token:ghp_Zx81sEcReTlOoKiNgVaLuE0123456789@git.example/acme/web.git"


@pytest.fixture
def history(store: EventStore) -> list[RecordedEvent]:
    """A small mixed history over two categories, two actors and two correlations."""
    store.append("run-1", [queued("1" * 40)], ANY, ALICE)
    store.append("repo-acme.web", [pushed("1" * 40)], ANY, ALICE)
    store.append("run-2", [queued("2" * 40), step_started("build")], ANY, BOB)
    store.append("run-1", [step_started("build")], ANY, ALICE)
    store.append("run-1", [step_finished("build", 3)], ANY, ALICE)
    store.append("run-2", [step_finished("build", 4)], ANY, BOB)
    store.append("repo-acme.web", [pushed("2" * 40)], ANY, BOB)
    return store.read_all()


def pushed(sha: str) -> CommitsPushed:
    """A CommitsPushed of one commit."""
    return CommitsPushed(
        repository="acme/web",
        ref="refs/heads/main",
        commits=(Commit(sha=sha, authored_at=datetime(2026, 1, 1, tzinfo=UTC)),),
    )


def listed(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    """The events GET /api/events returns for `params` (one page, which must be the last)."""
    response = client.get("/api/events", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next"] is None
    events: list[dict[str, Any]] = body["events"]
    return events


def ids(events: list[dict[str, Any]]) -> list[str]:
    """The event ids of response events, in order."""
    return [event["event_id"] for event in events]


def expected(history: list[RecordedEvent], keep: Any = lambda event: True) -> list[str]:
    """The ids of the recorded events `keep` accepts, in subscription order."""
    return [str(event.event_id) for event in history if keep(event)]


# --- probes and documentation --------------------------------------------------------


def test_healthz_answers_while_the_process_is_up(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_when_the_database_answers_and_is_migrated(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readyz_is_unavailable_while_a_migration_is_pending(
    settings: Settings, tmp_path: Path
) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(settings.migrations_dir, migrations)
    app = create_app(settings.model_copy(update={"migrations_dir": migrations}))
    with TestClient(app) as client:
        (migrations / "9999_future.sql").write_text("SELECT 1;\n")
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["pending"] == ["9999_future.sql"]


def test_openapi_document_and_docs_are_served_under_the_title_shiplog(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    assert document["info"]["title"] == "shiplog"
    assert "/api/events" in document["paths"]
    assert client.get("/docs").status_code == 200


# --- the audit query ---------------------------------------------------------------------


def test_events_are_listed_in_subscription_order_with_every_field(
    client: TestClient, history: list[RecordedEvent], database: Database
) -> None:
    with psycopg.connect(database.app_url) as conn:
        row = conn.execute("SELECT data FROM events WHERE position = %s", (history[0].position,))
        stored_data = row.fetchone()[0]  # type: ignore[index]
    events = listed(client)
    assert ids(events) == expected(history)
    first, recorded = events[0], history[0]
    assert first == {
        "position": recorded.position,
        "cursor": str(recorded.cursor),
        "stream": "run-1",
        "version": 0,
        "event_id": str(recorded.event_id),
        "type": "RunQueued",
        "schema_version": recorded.schema_version,
        "data": stored_data,
        "metadata": {"actor": "alice", "source": "test", "correlation_id": "run-1"},
        "recorded_at": first["recorded_at"],
        "hash": recorded.hash.hex(),
    }
    assert datetime.fromisoformat(first["recorded_at"]) == recorded.recorded_at


def test_events_are_filtered_by_stream(client: TestClient, history: list[RecordedEvent]) -> None:
    assert ids(listed(client, stream="run-1")) == expected(history, lambda e: e.stream == "run-1")


def test_events_are_filtered_by_category(client: TestClient, history: list[RecordedEvent]) -> None:
    repo = expected(history, lambda e: e.stream.startswith("repo-"))
    assert len(repo) == 2
    assert ids(listed(client, category="repo")) == repo


def test_events_are_filtered_by_one_or_several_types(
    client: TestClient, history: list[RecordedEvent]
) -> None:
    assert ids(listed(client, type="StepStarted")) == expected(
        history, lambda e: e.type_name == "StepStarted"
    )
    both = {"StepStarted", "CommitsPushed"}
    assert ids(listed(client, type=sorted(both))) == expected(
        history, lambda e: e.type_name in both
    )


def test_events_are_filtered_by_actor(client: TestClient, history: list[RecordedEvent]) -> None:
    bob = expected(history, lambda e: e.metadata.actor == "bob@example.com")
    assert len(bob) == 4
    assert ids(listed(client, actor="bob@example.com")) == bob


def test_events_are_filtered_by_correlation(
    client: TestClient, history: list[RecordedEvent]
) -> None:
    run_2 = expected(history, lambda e: e.metadata.correlation_id == "run-2")
    assert ids(listed(client, correlation="run-2")) == run_2


def test_filters_combine(client: TestClient, history: list[RecordedEvent]) -> None:
    assert ids(listed(client, category="run", actor="alice", type="StepStarted")) == expected(
        history,
        lambda e: (
            e.stream.startswith("run-")
            and e.metadata.actor == "alice"
            and e.type_name == "StepStarted"
        ),
    )
    assert listed(client, stream="run-1", actor="bob@example.com") == []


def test_events_are_filtered_by_recorded_time_range(client: TestClient, store: EventStore) -> None:
    store.append("run-1", [queued()], ANY, ALICE)
    time.sleep(0.01)
    since = datetime.now(UTC)
    time.sleep(0.01)
    store.append("run-1", [step_started("build")], ANY, ALICE)
    time.sleep(0.01)
    until = datetime.now(UTC)
    time.sleep(0.01)
    store.append("run-1", [step_finished("build")], ANY, ALICE)
    middle = store.read_all()[1:2]

    assert ids(listed(client, since=since.isoformat(), until=until.isoformat())) == expected(middle)
    assert len(listed(client, since=since.isoformat())) == 2
    assert len(listed(client, until=until.isoformat())) == 2
    naive_utc = since.replace(tzinfo=None).isoformat()
    assert len(listed(client, since=naive_utc)) == 2


def test_keyset_pagination_walks_every_page_without_gaps_or_repeats(
    client: TestClient, store: EventStore
) -> None:
    for n in range(23):
        store.append(f"run-{n % 4}", [step_finished("build", n)], ANY, ALICE)
    walked: list[str] = []
    pages = 0
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 5}
        if after is not None:
            params["after"] = after
        body = client.get("/api/events", params=params).json()
        walked += ids(body["events"])
        pages += 1
        after = body["next"]
        if after is None:
            break
        assert after == body["events"][-1]["cursor"]
    assert walked == expected(store.read_all())
    assert pages == 5  # 5 + 5 + 5 + 5 + 3: the last page says there is no next


def test_pagination_with_a_filter_continues_after_the_cursor(
    client: TestClient, history: list[RecordedEvent]
) -> None:
    alice = expected(history, lambda e: e.metadata.actor == "alice")
    first = client.get("/api/events", params={"actor": "alice", "limit": 2}).json()
    assert ids(first["events"]) == alice[:2]
    rest = listed(client, actor="alice", after=first["next"])
    assert ids(rest) == alice[2:]


def test_a_page_that_ends_exactly_at_the_last_event_has_no_next(
    client: TestClient, history: list[RecordedEvent]
) -> None:
    body = client.get("/api/events", params={"limit": len(history)}).json()
    assert len(body["events"]) == len(history)
    assert body["next"] is None


def test_events_of_a_transaction_still_open_are_held_back(
    client: TestClient, history: list[RecordedEvent], store: EventStore
) -> None:
    with store.transaction() as transaction:
        transaction.append("run-9", [queued("9" * 40)], ANY, ALICE)
        assert ids(listed(client)) == expected(history)
    assert len(listed(client)) == len(history) + 1


def test_csv_has_a_header_and_one_row_per_event(
    client: TestClient, history: list[RecordedEvent]
) -> None:
    response = client.get("/api/events", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    records = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]
    assert [row["event_id"] for row in records] == expected(history)
    as_json = listed(client)
    for row, event in zip(records, as_json, strict=True):
        assert json.loads(row["data"]) == event["data"]
        assert json.loads(row["metadata"]) == event["metadata"]
        assert row["cursor"] == event["cursor"]
        assert row["hash"] == event["hash"]


def test_csv_pages_carry_the_next_cursor_in_a_header(
    client: TestClient, history: list[RecordedEvent]
) -> None:
    response = client.get("/api/events", params={"format": "csv", "limit": 2})
    assert response.headers["X-Shiplog-Next"] == str(history[1].cursor)
    assert len(list(csv.reader(io.StringIO(response.text)))) == 3


def test_an_event_is_returned_as_stored_even_when_a_value_looks_secret(
    client: TestClient, store: EventStore
) -> None:
    event = queued("a" * 40).model_copy(update={"repository": SECRET_REPOSITORY})
    store.append("run-s", [event], ANY, ALICE)
    [listed_event] = listed(client, stream="run-s")
    assert listed_event["data"]["repository"] == SECRET_REPOSITORY
    csv_text = client.get("/api/events", params={"stream": "run-s", "format": "csv"}).text
    assert SECRET_REPOSITORY in csv_text


# --- bad input: 4xx naming the parameter, never 500 --------------------------------------


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"after": "yesterday"}, "after"),
        ({"after": "12"}, "after"),
        ({"after": f"{2**64}:1"}, "after"),
        ({"since": "not-a-date"}, "since"),
        ({"until": "2026-13-45"}, "until"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"category": "Run"}, "category"),
        ({"format": "xml"}, "format"),
    ],
)
def test_a_bad_query_parameter_is_refused_naming_it(
    client: TestClient, params: dict[str, Any], name: str
) -> None:
    response = client.get("/api/events", params=params)
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["query", name]


def test_a_malformed_stream_name_is_a_400_with_the_ledger_message(client: TestClient) -> None:
    response = client.get("/api/events", params={"stream": "no dash here"})
    assert response.status_code == 400
    assert "no dash here" in response.json()["detail"]


# --- shiplog serve -----------------------------------------------------------------------


def serve_cli() -> typer.Typer:
    """A Typer app holding only `serve` (and a no-op, so `serve` stays a subcommand)."""
    app = typer.Typer()
    serve_command.register(app)
    app.command("noop")(lambda: None)
    return app


@pytest.mark.parametrize(
    ("args", "bound"),
    [([], ("127.0.0.1", 8080)), (["--host", "0.0.0.0", "--port", "9000"], ("0.0.0.0", 9000))],
)
def test_serve_runs_the_api_under_uvicorn_on_loopback_by_default(
    cli: CliRunner,
    store: EventStore,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    bound: tuple[str, int],
) -> None:
    token(store, "ops", Role.ADMIN)  # with a token, any address may be served
    calls: list[tuple[Any, str, int]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port: calls.append((app, host, port)))
    result = cli.invoke(serve_cli(), ["serve", *args])
    assert result.exit_code == 0, result.output
    [(app, host, port)] = calls
    assert isinstance(app, FastAPI)
    assert (host, port) == bound
