"""Velocity, environments and the deployment audit over a generated year, in a real PostgreSQL.

The history (tests/velocity_history.py) is written through the real EventStore
and folded by the real projector; expected figures come from the generator's own
record through the tests' own code (tests/velocity_expected.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.projections import projector
from app.server import create_app
from app.services.access import Role
from events.projections import table_checksums
from events.store import Cursor, EventStore
from tests.conftest import TEST_HOSTS
from tests.support.access import bearer
from tests.support.databases import copied_database
from tests.support.velocity_expected import (
    expected,
    level_of_failure_rate,
    level_of_frequency,
    level_of_lead_time,
    level_of_recovery,
    percentile,
)
from tests.support.velocity_history import SERVICES, START, History, Timed, generate, write

SINCE = START + timedelta(days=35)
UNTIL = START + timedelta(days=330)
HALF = START + timedelta(days=200)


@dataclass
class World:
    """The module's database with the year written in, and what the generator recorded."""

    client: TestClient
    store: EventStore
    history: History
    events: list[Timed]
    half: Cursor  # the last event that happened before HALF


@pytest.fixture(scope="module")
def world(
    admin_url: str, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """A database holding the generated year, folded, and an API client over it."""
    with copied_database(admin_url, template_database, prefix="shiplog_velocity") as database:
        history, events = generate()
        store = EventStore(database.app_url)
        half = write(store, [t for t in events if t.at < HALF])
        write(store, [t for t in events if t.at >= HALF])
        projector(store).catch_up_all()
        settings = Settings(
            home=Path(tmp_path_factory.mktemp("home")),
            database_url=database.app_url,
            allowed_hosts=TEST_HOSTS,
        )
        viewer = bearer(store, "viewer", Role.VIEWER)
        with TestClient(create_app(settings), headers=viewer) as client:
            yield World(client, store, history, events, half)
        store.close()


def velocity(world: World, **params: Any) -> dict[str, Any]:
    """GET /api/velocity with `params`, checked to be 200; the JSON body."""
    response = world.client.get("/api/velocity", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def check_group(group: dict[str, Any], want: Any, since: datetime, until: datetime) -> None:
    """One service's figures in the report match those computed from the record."""
    days = (until - since).total_seconds() / 86400
    assert group["deployments"] == want.deployments
    assert group["deployments_per_day"] == pytest.approx(want.deployments / days)
    assert group["frequency_level"] == level_of_frequency(want.deployments / days)
    assert group["changes"] == want.changes
    assert group["failed_changes"] == want.failed
    rate = want.failed / want.changes
    assert group["change_failure_rate"] == pytest.approx(rate)
    assert group["change_failure_level"] == level_of_failure_rate(rate)
    lead = group["lead_time"]
    assert lead["count"] == len(want.lead_times)
    assert lead["median"] == pytest.approx(percentile(want.lead_times, 0.5))
    assert lead["p90"] == pytest.approx(percentile(want.lead_times, 0.9))
    assert group["lead_time_level"] == level_of_lead_time(percentile(want.lead_times, 0.5))
    recovery = group["recovery"]
    assert recovery["count"] == len(want.recoveries)
    assert recovery["median"] == pytest.approx(percentile(want.recoveries, 0.5))
    assert recovery["p90"] == pytest.approx(percentile(want.recoveries, 0.9))
    assert group["recovery_level"] == level_of_recovery(percentile(want.recoveries, 0.5))
    assert group["unrecovered"] == want.unrecovered
    weekly = {w["week"]: w["deployments"] for w in group["weekly"]}
    assert weekly == {week.isoformat(): count for week, count in want.weekly_deployments.items()}
    for week in group["weekly"]:
        monday = date.fromisoformat(week["week"])
        leads = want.weekly_lead_times[monday]
        assert week["lead_time_median"] == pytest.approx(percentile(leads, 0.5))
        failed, finished = want.weekly_changes[monday]
        assert week["change_failure_rate"] == (
            None if finished == 0 else pytest.approx(failed / finished)
        )
    rates = [failed / finished for failed, finished in want.weekly_changes.values() if finished]
    assert group["weekly_change_failure_rate"]["median"] == pytest.approx(percentile(rates, 0.5))
    assert group["weekly_change_failure_rate"]["p90"] == pytest.approx(percentile(rates, 0.9))
    counts = [float(c) for c in want.weekly_deployments.values()]
    assert group["weekly_deployments"]["median"] == pytest.approx(percentile(counts, 0.5))
    assert group["weekly_deployments"]["p90"] == pytest.approx(percentile(counts, 0.9))


def test_velocity_matches_the_figures_computed_from_the_generated_year(world: World) -> None:
    body = velocity(world, since=SINCE.isoformat(), until=UNTIL.isoformat())
    assert body["environments"] == ["production"]
    groups = {(g["service"], g["environment"]): g for g in body["services"]}
    assert set(groups) == {(s, "production") for s in SERVICES}  # staging is not production
    for service in SERVICES:
        want = expected(world.history, service, SINCE, UNTIL)
        assert want.lead_times and want.recoveries and want.failed  # the year has all of them
        check_group(groups[(service, "production")], want, SINCE, UNTIL)


def test_velocity_of_one_service_as_of_a_past_cursor_knows_only_what_happened_by_then(
    world: World,
) -> None:
    body = velocity(
        world, service="api", since=SINCE.isoformat(), until=HALF.isoformat(), as_of=str(world.half)
    )
    assert body["as_of"] == str(world.half)
    [group] = body["services"]
    want = expected(world.history, "api", SINCE, HALF, horizon=HALF)
    check_group(group, want, SINCE, HALF)
    # Without as_of, later rollbacks, incidents and fixes change the same window's figures.
    later = velocity(world, service="api", since=SINCE.isoformat(), until=HALF.isoformat())
    now = expected(world.history, "api", SINCE, HALF)
    check_group(later["services"][0], now, SINCE, HALF)


def test_velocity_for_a_configured_set_of_production_environments(world: World) -> None:
    body = velocity(world, env="production", since="400d")
    assert body["environments"] == ["production"]
    response = world.client.get("/api/velocity", params={"env": "staging"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "env"]
    assert "not a production environment" in response.json()["detail"][0]["msg"]


def test_velocity_as_csv_has_a_row_per_service_then_one_per_week(world: World) -> None:
    response = world.client.get(
        "/api/velocity",
        params={"since": SINCE.isoformat(), "until": UNTIL.isoformat(), "format": "csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    totals = [r for r in rows if r["week"] == ""]
    assert [r["service"] for r in totals] == sorted(SERVICES)
    for total in totals:
        want = expected(world.history, total["service"], SINCE, UNTIL)
        assert int(total["deployments"]) == want.deployments
        weeks = [r for r in rows if r["service"] == total["service"] and r["week"]]
        assert len(weeks) == len(want.weekly_deployments)
        assert sum(int(r["deployments"]) for r in weeks) == want.deployments


def running_from_record(history: History, horizon: datetime) -> dict[tuple[str, str], str]:
    """(environment, service) → image, from the record: the last rollout or rollback before."""
    changes: list[tuple[datetime, str, str, str]] = []
    for d in history.deployments:
        if d.outcome == "succeeded" and d.finished_at < horizon:
            changes.append((d.finished_at, d.environment, d.service, d.image_digest))
    for timed in [t for t in generate()[1] if type(t.event).__name__ == "RolledBack"]:
        if timed.at < horizon:
            event: Any = timed.event
            environment = timed.stream.removeprefix("env-")
            changes.append((timed.at, environment, event.service, event.image_digest))
    return {(env, service): image for _, env, service, image in sorted(changes)}


def test_environment_shows_what_each_service_runs_now_and_as_of_a_past_cursor(
    world: World,
) -> None:
    for as_of, horizon in ((None, datetime.max.replace(tzinfo=UTC)), (world.half, HALF)):
        params = {} if as_of is None else {"as_of": str(as_of)}
        response = world.client.get("/api/environments/production", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        want = running_from_record(world.history, horizon)
        got = {("production", r["service"]): r["image_digest"] for r in body["running"]}
        assert got == {k: v for k, v in want.items() if k[0] == "production"}
        listed = world.client.get("/api/environments", params=params).json()
        assert [e["environment"] for e in listed] == ["production", "staging"]
        assert listed[0]["running"] == body["running"]
        staging = {("staging", r["service"]): r["image_digest"] for r in listed[1]["running"]}
        assert staging == {k: v for k, v in want.items() if k[0] == "staging"}
        newest = max(
            (d for d in world.history.deployments
             if d.environment == "production" and d.started_at < horizon),
            key=lambda d: d.started_at,
        )  # fmt: skip
        assert body["history"][0]["deployment_id"] == newest.deployment_id


def test_deployment_audit_pages_through_who_deployed_what_where_when_from_which_commit(
    world: World,
) -> None:
    since, until = START + timedelta(days=100), START + timedelta(days=130)
    want = {
        d.deployment_id: d
        for d in world.history.deployments
        if d.environment == "staging" and since <= d.started_at < until
    }
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {
        "env": "staging", "since": since.isoformat(), "until": until.isoformat(), "limit": 7,
    }  # fmt: skip
    while True:
        response = world.client.get("/api/audit/deployments", params=params)
        assert response.status_code == 200, response.text
        seen.extend(response.json()["deployments"])
        if response.json()["next"] is None:
            break
        params["after"] = response.json()["next"]
    assert [row["deployment_id"] for row in seen] == sorted(
        want, key=lambda ident: want[ident].started_at
    )
    for row in seen:
        planned = want[row["deployment_id"]]
        assert row["environment"] == "staging"
        assert row["actor"] == planned.actor
        assert row["commit"] == planned.commit
        assert row["repository"] == planned.repository
        assert row["image_digest"] == planned.image_digest
        assert datetime.fromisoformat(row["started_at"]) == planned.started_at
        status = "rolled_back" if planned.rolled_back_at else planned.outcome
        assert row["status"] == status


def test_deployment_audit_as_of_leaves_out_what_was_recorded_later(world: World) -> None:
    params = {"env": "production", "since": (HALF - timedelta(days=3)).isoformat(), "limit": 1000}
    now = world.client.get("/api/audit/deployments", params=params).json()["deployments"]
    then = world.client.get(
        "/api/audit/deployments", params=params | {"as_of": str(world.half)}
    ).json()["deployments"]
    assert len(then) < len(now)
    assert all(datetime.fromisoformat(row["started_at"]) < HALF for row in then)
    assert [r["deployment_id"] for r in then] == [
        r["deployment_id"] for r in now if datetime.fromisoformat(r["started_at"]) < HALF
    ]


def test_deployment_audit_as_csv(world: World) -> None:
    response = world.client.get(
        "/api/audit/deployments", params={"env": "production", "format": "csv", "limit": 3}
    )
    assert response.status_code == 200
    lines = response.text.strip().split("\r\n")
    assert lines[0].startswith("deployment_id,environment,service,image_digest,status")
    assert len(lines) == 4
    assert response.headers["X-Shiplog-Next"].isdigit()


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/velocity", {"since": "ninety days"}, "since"),
        ("/api/velocity", {"until": "2026-13-01"}, "until"),
        ("/api/velocity", {"since": "2026-02-01", "until": "2026-01-01"}, "since"),
        ("/api/velocity", {"service": "nonesuch"}, "service"),
        ("/api/velocity", {"since": "0001-01-01", "until": "2026-02-01"}, "since"),
        ("/api/velocity", {"since": "2026-01-01", "until": "0001-02-01"}, "until"),
        ("/api/velocity", {"since": "9999-12-01", "until": "9999-12-31"}, "until"),
        ("/api/velocity", {"since": "2000-01-01"}, "since"),
        ("/api/audit/deployments", {"after": str(2**63)}, "after"),
        ("/api/velocity", {"format": "xml"}, "format"),
        ("/api/velocity", {"as_of": "yesterday-ish"}, "as_of"),
        ("/api/audit/deployments", {"since": "last tuesday"}, "since"),
        ("/api/audit/deployments", {"limit": 0}, "limit"),
        ("/api/audit/deployments", {"after": "x"}, "after"),
        ("/api/audit/deployments", {"as_of": "1:2:3"}, "as_of"),
        ("/api/environments/production", {"as_of": "-1:5"}, "as_of"),
        ("/api/environments/production", {"limit": 5000}, "limit"),
    ],
)
def test_bad_parameters_give_422_naming_the_parameter(
    world: World, path: str, params: dict[str, Any], parameter: str
) -> None:
    response = world.client.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", parameter]


def test_unknown_service_error_lists_the_known_ones(world: World) -> None:
    response = world.client.get("/api/velocity", params={"service": "nonesuch"})
    assert "known: api, web, worker" in response.json()["detail"][0]["msg"]


def test_rebuilt_projection_holds_exactly_what_the_live_one_held(world: World) -> None:
    live = projector(world.store).projection("deployments")
    with world.store.connection() as conn:
        before = table_checksums(conn, live)
    projector(world.store).rebuild("deployments")
    with world.store.connection() as conn:
        assert table_checksums(conn, live) == before


def test_velocity_covers_every_configured_production_environment(
    world: World, tmp_path: Path
) -> None:
    app_url = world.client.app.state.settings.database_url  # type: ignore[attr-defined]
    settings = Settings(
        home=tmp_path,
        database_url=app_url,
        production_environments=("production", "staging"),
        allowed_hosts=TEST_HOSTS,
    )
    with TestClient(create_app(settings), headers=world.client.headers) as client:
        response = client.get(
            "/api/velocity", params={"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["environments"] == ["production", "staging"]
    groups = {(g["service"], g["environment"]): g for g in body["services"]}
    assert len(groups) == 2 * len(SERVICES)
    for service in SERVICES:
        want = expected(world.history, service, SINCE, UNTIL, environment="staging")
        check_group(groups[(service, "staging")], want, SINCE, UNTIL)


def test_as_of_a_time_answers_like_the_cursor_of_the_last_event_recorded_by_then(
    world: World,
) -> None:
    with world.store.connection() as conn:
        row = conn.execute(
            "SELECT recorded_at FROM events WHERE position = %s", (world.half.position,)
        ).fetchone()
    assert row is not None
    by_cursor = world.client.get(
        "/api/environments/production", params={"as_of": str(world.half), "limit": 1000}
    ).json()
    by_time = world.client.get(
        "/api/environments/production", params={"as_of": row[0].isoformat(), "limit": 1000}
    ).json()
    assert by_time["running"] == by_cursor["running"]
    assert by_time["history"] == by_cursor["history"]


def test_environment_history_pages_newest_first_through_every_deployment(world: World) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 200}
    while True:
        body = world.client.get("/api/environments/production", params=params).json()
        seen.extend(row["deployment_id"] for row in body["history"])
        if body["next"] is None:
            break
        params["after"] = body["next"]
    production = [d for d in world.history.deployments if d.environment == "production"]
    assert seen == [d.deployment_id for d in sorted(production, key=lambda d: d.started_at)][::-1]
    web = world.client.get(
        "/api/environments/production", params={"service": "web", "limit": 1000}
    ).json()["history"]
    assert [row["deployment_id"] for row in web] == [i for i in seen if i.startswith("web-")]
