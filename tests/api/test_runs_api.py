"""GET /api/runs, /api/runs/{id} and step logs over a real PostgreSQL, now and as of a cursor."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.database import Database
from app.executor.actions.masking import Masker
from app.executor.logs import StepLogWriter
from app.projections import projector
from app.server import create_app
from app.services.access import Role
from events.store import EventStore
from events.vocabulary import StepStarted
from tests.support.access import bearer
from tests.support.run_history import RunPlan, append_interleaved, history


@pytest.fixture
def plans(store: EventStore) -> list[RunPlan]:
    plans, streams = history(runs=30, seed=11)
    append_interleaved(store, streams, seed=12)
    projector(store).catch_up_all()
    return plans


def fields(response: Any) -> list[str]:
    return [item["loc"][-1] for item in response.json()["detail"]]


def test_a_run_is_answered_with_its_steps_in_order_images_and_pushes(
    client: TestClient, plans: list[RunPlan]
) -> None:
    plan = next(p for p in plans if p.outcome == "succeeded")
    response = client.get(f"/api/runs/{plan.run_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["run"]["status"] == "succeeded"
    assert body["run"]["commit"] == f"{int(plan.run_id[1:]):040x}"
    assert body["run"]["queue_wait_ms"] >= 0
    assert [(s["step"], s["status"]) for s in body["steps"]] == list(plan.steps.items())
    assert [i["image_id"] for i in body["images"]] == [f"sha256:{int(plan.run_id[1:]):064x}"]
    assert [p["tag"] for p in body["pushes"]] == ["latest", str(int(plan.run_id[1:]))]


def test_as_of_a_cursor_a_run_is_shown_as_it_was_then(
    client: TestClient, store: EventStore, plans: list[RunPlan]
) -> None:
    plan = next(p for p in plans if p.outcome == "succeeded")
    events = store.read_stream(f"run-{plan.run_id}")
    claimed = next(e for e in events if e.type_name == "RunClaimed")
    response = client.get(f"/api/runs/{plan.run_id}", params={"as_of": str(claimed.cursor)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["run"]["status"] == "running"
    assert body["run"]["finished_at"] is None
    expected = [
        e.data.step
        for e in events
        if isinstance(e.data, StepStarted) and e.cursor <= claimed.cursor
    ]
    assert [s["step"] for s in body["steps"]] == expected
    before = client.get(f"/api/runs/{plan.run_id}", params={"as_of": "0:0"})
    assert before.status_code == 404 and "as of 0:0" in before.json()["detail"]
    # the live answer is unchanged afterwards: the as-of copies did not leak into the pool
    assert client.get(f"/api/runs/{plan.run_id}").json()["run"]["status"] == "succeeded"


def test_runs_are_listed_newest_first_filtered_and_paged(
    client: TestClient, plans: list[RunPlan]
) -> None:
    failed = sorted(p.run_id for p in plans if p.outcome == "failed")
    listed = client.get("/api/runs", params={"status": "failed", "limit": 500}).json()
    assert sorted(r["run_id"] for r in listed) == failed
    seen: list[str] = []
    page = client.get("/api/runs", params={"limit": 7}).json()
    while page:
        seen += [r["run_id"] for r in page]
        page = client.get("/api/runs", params={"limit": 7, "before": seen[-1]}).json()
    assert sorted(seen) == sorted(p.run_id for p in plans)
    assert len(seen) == len(set(seen))
    assert_newest_first(client, seen)


def assert_newest_first(client: TestClient, run_ids: list[str]) -> None:
    times = [client.get(f"/api/runs/{run_id}").json()["run"]["queued_at"] for run_id in run_ids]
    assert times == sorted(times, reverse=True)


def test_bad_run_questions_are_refused_naming_the_parameter(
    client: TestClient, plans: list[RunPlan]
) -> None:
    assert fields(client.get("/api/runs", params={"status": "exploded"})) == ["status"]
    assert fields(client.get("/api/runs", params={"limit": 0})) == ["limit"]
    assert fields(client.get("/api/runs", params={"as_of": "last week"})) == ["as_of"]
    missing = client.get("/api/runs/nope")
    assert missing.status_code == 404 and "no run 'nope'" in missing.json()["detail"]
    assert fields(client.get("/api/runs/not-a-uuid/steps/build/log")) == ["run_id"]


def test_a_step_log_is_served_as_text_and_a_missing_one_is_a_404(
    client: TestClient, database: Database
) -> None:
    run_id = uuid.uuid4()
    with StepLogWriter(database.app_url, run_id, "build", Masker(["hunter2"])) as writer:
        writer.write("step 1\npassword hunter2\n")
    response = client.get(f"/api/runs/{run_id}/steps/build/log")
    assert response.status_code == 200
    assert response.text.splitlines() == ["step 1", "password ********"]
    tail = client.get(f"/api/runs/{run_id}/steps/build/log", params={"after_line": 1})
    assert tail.text == "password ********\n"
    assert client.get(f"/api/runs/{run_id}/steps/test/log").status_code == 404


def test_an_app_that_follows_keeps_its_projections_caught_up_with_new_events(
    settings: Settings, store: EventStore
) -> None:
    with TestClient(
        create_app(settings, follow=True), headers=bearer(store, "admin", Role.ADMIN)
    ) as client:
        plans, streams = history(runs=5, seed=13)
        append_interleaved(store, streams, seed=14)
        deadline = time.monotonic() + 60  # a bound on waiting, not a speed claim
        listed: list[dict[str, Any]] = []
        while time.monotonic() < deadline and len(listed) < len(plans):
            response = client.get("/api/runs")
            listed = response.json() if response.status_code == 200 else []
            time.sleep(0.1)
    assert sorted(r["run_id"] for r in listed) == sorted(p.run_id for p in plans)
