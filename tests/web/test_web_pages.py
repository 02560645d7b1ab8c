"""Web pages over a real PostgreSQL: structure checked with an HTML parser, empty states, errors."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.config import Settings
from app.projections import PROJECTIONS, projector
from app.queries import health
from app.server import create_app
from app.services.access import Role
from events.catalogue import Metadata
from events.store import ANY, EventStore
from tests.support.access import bearer
from tests.support.factories import queued
from tests.support.html_tree import Node, check_page, parse
from tests.support.web_history import (
    COMMIT,
    DIGEST,
    IMAGE_ID,
    OLD_DIGEST,
    REPOSITORY,
    History,
    record_history,
    record_supply_chain,
)


@pytest.fixture
def web(settings: Settings, store: EventStore) -> Iterator[TestClient]:
    """A client of the whole application (API and pages), its lifespan running, an admin."""
    with TestClient(create_app(settings), headers=bearer(store, "admin", Role.ADMIN)) as client:
        yield client


@pytest.fixture
def empty(store: EventStore, web: TestClient) -> TestClient:
    """The client over an empty ledger whose projections have caught up (as serve does)."""
    projector(store).catch_up_all()
    return web


@pytest.fixture
def history(store: EventStore, web: TestClient) -> History:
    """One finished run, two deployments to production and an incident, projections caught up."""
    return record_history(store, web)


def page(web: TestClient, url: str, status: int = 200) -> tuple[str, Node]:
    response = web.get(url)
    assert response.status_code == status, (url, response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    return response.text, check_page(response.text)


# --- timeline ------------------------------------------------------------------------------


def test_timeline_lists_every_event_newest_first_with_links_to_run_image_and_environment(
    web: TestClient, store: EventStore, history: History
) -> None:
    _, doc = page(web, "/")
    rows = doc.by_id("timeline-rows").find_all("tr")
    events = store.read_all()
    assert len(rows) == len(events)
    positions = [int(row.attrs["id"].removeprefix("event-")) for row in rows]
    assert positions == sorted(positions, reverse=True)
    links = {a.attrs["href"] for a in doc.find_all("a")}
    assert f"/runs/{history.run_id}" in links
    assert f"/images/{DIGEST}" in links
    assert "/environments/production" in links
    for row in rows:  # every stream leads somewhere; every row says what happened, no None
        assert row.find_all("td")[2].find("a").attrs["href"]
        assert row.find("td", class_="details").text and "None" not in row.text
    live = doc.by_id("timeline-rows").attrs["data-live"]
    assert live.startswith("/live/timeline?after=")
    assert doc.find("time").attrs["datetime"].endswith("Z")


def test_timeline_pages_by_keyset_without_gaps_or_repeats(
    web: TestClient, store: EventStore, history: History
) -> None:
    seen: list[int] = []
    url = "/?limit=4"
    while url:
        _, doc = page(web, url)
        rows = doc.by_id("timeline-rows").find_all("tr")
        seen += [int(row.attrs["id"].removeprefix("event-")) for row in rows]
        older = [a for a in doc.find_all("a") if a.attrs.get("rel") == "next"]
        url = older[0].attrs["href"].replace("&amp;", "&") if older else ""
        if url:
            assert "limit=4" in url and "after=" in url
            # only the first page is live
            assert "data-live" not in parse(web.get(url).text).by_id("timeline-rows").attrs
    assert seen == sorted((e.position for e in store.read_all()), reverse=True)


@pytest.mark.parametrize(
    ("query", "expected_types"),
    [
        ("category=env", {"DeploymentStarted", "DeploymentSucceeded"}),
        ("type=ImagePushed", {"ImagePushed"}),
        ("type=ImagePushed&type=RunSucceeded", {"ImagePushed", "RunSucceeded"}),
        ("actor=admin&category=incident", {"IncidentOpened"}),
        ("environment=production&type=DeploymentSucceeded", {"DeploymentSucceeded"}),
    ],
)
def test_timeline_filters_live_in_the_url_and_narrow_the_rows(
    web: TestClient, history: History, query: str, expected_types: set[str]
) -> None:
    _, doc = page(web, f"/?{query}")
    rows = doc.by_id("timeline-rows").find_all("tr")
    assert rows
    assert {row.find("code").text for row in rows} == expected_types
    live = doc.by_id("timeline-rows").attrs["data-live"]
    for part in query.split("&"):
        assert part in live  # the live feed follows the same filters


def test_timeline_filters_offer_every_category_and_type_of_the_catalogue(
    web: TestClient, store: EventStore, history: History
) -> None:
    _, doc = page(web, "/?category=hooks")
    options = doc.by_id("f-category").find_all("option")
    offered = [o.attrs["value"] for o in options]
    assert offered == ["", *store.catalogue.categories()]
    assert {"run", "env", "hooks", "notify", "engine", "cdevent"} <= set(offered)
    assert [o.attrs["value"] for o in options if "selected" in o.attrs] == ["hooks"]
    suggested = [o.attrs["value"] for o in doc.by_id("event-types").find_all("option")]
    assert suggested == sorted(cls.type_name for cls in store.catalogue)
    assert "WebhookRejected" in suggested


def test_timeline_filter_by_repository_shows_that_repositorys_runs(
    web: TestClient, store: EventStore, history: History
) -> None:
    other = Metadata(actor="bob", source="test")
    store.append("run-other", [queued("2" * 40).model_copy(update={"repository": "elsewhere"})],
                 ANY, other)  # fmt: skip
    projector(store).catch_up_all()
    _, doc = page(web, "/?repository=https%3A%2F%2Fgit.example%2Facme%2Fweb.git")
    rows = doc.by_id("timeline-rows").find_all("tr")
    cells = [row.find_all("td")[2] for row in rows]
    assert {c.find("a").attrs["href"] for c in cells} == {
        f"/runs/{history.run_id}",
        "/?repository=https:%2F%2Fgit.example%2Facme%2Fweb.git",  # the repository's events
    }
    assert f"repo-{REPOSITORY}" in {c.find("code").text for c in cells}
    _, doc = page(web, "/?repository=nowhere")
    assert "No events match these filters." in doc.by_id("timeline-empty").text


def test_timeline_of_an_empty_ledger_says_how_to_fill_it(empty: TestClient) -> None:
    _, doc = page(empty, "/")
    assert doc.by_id("timeline-rows").find_all("tr") == []
    assert "No events recorded yet" in doc.by_id("timeline-empty").text


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("since=yesterday", "'since'"),
        ("after=12", "'after'"),
        ("after=1:99999999999999999999", "'after'"),
        ("limit=0", "'limit'"),
        ("limit=many", "'limit'"),
        ("category=Run-", "'category'"),
        ("stream=nodash", "'stream'"),
        ("type=Not%20A%20Type", "'type'"),
        ("since=2026-01-02T00:00&until=2026-01-01T00:00", "'until'"),
    ],
)
def test_bad_timeline_parameters_get_a_400_page_naming_the_parameter(
    web: TestClient, query: str, named: str
) -> None:
    _, doc = page(web, f"/?{query}", 400)
    assert named in doc.find("p", class_="error").text


# --- run -----------------------------------------------------------------------------------


def test_run_page_shows_header_gantt_with_parallel_steps_logs_tests_and_images(
    web: TestClient, history: History
) -> None:
    _, doc = page(web, f"/runs/{history.run_id}")
    summary = doc.by_id("run-summary")
    assert "succeeded" in summary.find("h1").text
    facts = summary.find("dl").text
    assert COMMIT in facts and "cli" in facts and "alice" in facts
    bars = summary.find("svg").find_all("g")
    assert [b.find("title").text.split(":")[0] for b in bars] == ["build", "test", "lint", "push"]
    rects = {b.find("title").text.split(":")[0]: b.find("rect").attrs for b in bars}
    # test and lint ran side by side: their bars overlap on the time axis, in their own lanes
    t, lint = rects["test"], rects["lint"]
    assert float(t["x"]) < float(lint["x"]) + float(lint["width"])
    assert float(lint["x"]) < float(t["x"]) + float(t["width"])
    assert t["y"] != lint["y"]
    assert "data-live-summary" not in summary.attrs  # finished: nothing to follow
    log = doc.by_id("step-build")
    assert "Successfully built a1a1a1" in log.find("pre").text
    assert "7 passed, 0 failed, 1 skipped" in doc.text
    hrefs = {a.attrs["href"] for a in doc.find_all("a")}
    assert {f"/images/{DIGEST}", f"/images/{IMAGE_ID}"} <= hrefs


def test_a_running_run_page_follows_its_steps_and_log_live(
    web: TestClient, store: EventStore
) -> None:
    meta = Metadata(actor="alice", source="test")
    run_id = "5d6f0b9e-2a44-4c4e-9a57-4b3c2d1e0f00"
    from events.vocabulary import RunClaimed, StepStarted

    store.append(f"run-{run_id}", [queued(), RunClaimed(runner="r", runner_version="1"),
                                    StepStarted(step="build", image="x", commands_digest="y")],
                 ANY, meta)  # fmt: skip
    projector(store).catch_up_all()
    _, doc = page(web, f"/runs/{run_id}")
    summary = doc.by_id("run-summary")
    assert summary.attrs["data-live-summary"] == f"/runs/{run_id}/summary"
    pre = doc.by_id("step-build").find("pre")
    assert pre.attrs["data-live-log"] == f"/live/runs/{run_id}/steps/build/log?after=0"
    fragment = parse(web.get(f"/runs/{run_id}/summary").text)
    assert fragment.by_id("run-summary").find("svg")


def test_a_queued_run_page_says_no_step_has_started_and_nothing_was_built(
    web: TestClient, store: EventStore
) -> None:
    run_id = "0b5a7c1e-0000-4000-8000-000000000001"
    store.append(f"run-{run_id}", [queued()], ANY, Metadata(actor="alice", source="test"))
    projector(store).catch_up_all()
    _, doc = page(web, f"/runs/{run_id}")
    assert "queued" in doc.find("h1").text
    empties = [p.text for p in doc.find_all("p", class_="empty")]
    assert "No step has started yet." in empties
    assert "This run has built and pushed no image yet." in empties
    assert doc.find_all("svg") == []


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        ("/runs/not-a-uuid", 400, "is not a run id"),
        ("/runs/00000000-0000-0000-0000-000000000000", 404, "no run"),
    ],
)
def test_unknown_or_malformed_run_ids_get_a_page_that_says_so(
    web: TestClient, history: History, url: str, status: int, words: str
) -> None:
    _, doc = page(web, url, status)
    assert words in doc.find("p", class_="error").text


# --- image, environment ---------------------------------------------------------------------


def test_image_page_summarises_provenance_labels_tests_pushes_and_deployments(
    web: TestClient, history: History
) -> None:
    _, doc = page(web, f"/images/{DIGEST}")
    prov = doc.by_id("provenance").text
    assert history.run_id in prov and COMMIT in prov
    assert "team" in doc.find("table", class_="labels").text
    assert "7 passed" in doc.text
    assert "127.0.0.1:5055/acme/hello:1.0.0" in doc.by_id("pushes").text
    placements = doc.by_id("placements").text
    assert "production / web: running now" in placements
    # the older image ran there before and no longer does
    _, old = page(web, f"/images/{OLD_DIGEST}")
    assert "production / web: ran it before, from" in old.by_id("placements").text
    # the engine image id leads to the same run and push
    _, by_id = page(web, f"/images/{IMAGE_ID}")
    # every download offered answers with its document; nothing unsigned is offered
    downloads = {a.text: a.attrs["href"] for a in doc.find_all("a") if "download" in a.attrs}
    assert "SLSA provenance" in downloads and "CycloneDX SBOM" not in downloads
    for url in downloads.values():
        assert web.get(url).status_code == 200, url
    pushed = by_id.by_id("pushes").find("a").attrs["href"]
    assert pushed == f"/images/{DIGEST}"


def test_image_page_shows_sbom_scan_and_reproductions_and_all_of_it_as_of_a_past_cursor(
    web: TestClient, store: EventStore, history: History
) -> None:
    before = store.head()
    record_supply_chain(store, history.run_id)
    projector(store).catch_up_all()
    _, doc = page(web, f"/images/{DIGEST}")
    assert "3 packages" in doc.by_id("sbom-summary").text
    assert "Debian:12 3" in doc.by_id("ecosystems").text
    licences = doc.by_id("licences").text
    assert "GPL-3.0-or-later 1" in licences and "Zlib 1" in licences
    assert "none declared 1" in licences
    scan = doc.by_id("scan-summary").text
    assert "12 advisories" in scan and "2 findings: 1 high, 1 unrated" in scan
    findings = doc.by_id("findings").find("tbody").find_all("tr")
    assert [row.find_all("td")[1].find("code").text for row in findings] == ["DSA-1", "DSA-2"]
    assert "no fix named" in findings[1].text
    reproductions = doc.by_id("reproductions").text
    assert "same-content" in reproductions and "carol" in reproductions
    assert "40 paths compared" in reproductions
    assert "production / web: running now" in doc.by_id("placements").text

    # As of the cursor before the scan: no SBOM, scan or reproduction yet, the rest as it was.
    _, then = page(web, f"/images/{DIGEST}?as_of={before}")
    assert str(before) in then.by_id("as-of-note").text
    empties = " ".join(p.text for p in then.find_all("p", class_="empty"))
    assert "No SBOM was made for this image as of then" in empties
    assert "This image was not scanned as of then" in empties
    assert "Never rebuilt as of then" in empties
    assert history.run_id in then.by_id("provenance").text
    # As of a time before anything was recorded, the image was not known at all.
    page(web, f"/images/{DIGEST}?as_of=2000-01-01T00:00:00Z", 404)
    _, bad = page(web, f"/images/{DIGEST}?as_of=yesterday", 400)
    assert "as_of" in bad.find("p", class_="error").text


@pytest.mark.parametrize(
    ("url", "status"),
    [("/images/sha256:abc", 400), ("/images/sha256:" + "9" * 64, 404)],
)
def test_image_page_refuses_partial_digests_and_says_when_none_is_recorded(
    web: TestClient, history: History, url: str, status: int
) -> None:
    page(web, url, status)


def test_environment_page_shows_what_runs_now_history_and_incidents(
    web: TestClient, history: History
) -> None:
    _, doc = page(web, "/environments/production")
    now = doc.by_id("running-now")
    assert now.find("a").attrs["href"] == f"/images/{DIGEST}"
    assert len(doc.by_id("history").find("tbody").find_all("tr")) == 2  # two rollouts
    incidents = doc.by_id("incidents").text
    assert (
        "inc-1" in incidents and "open" in incidents and "caused by deployment dep-new" in incidents
    )
    _, listing = page(web, "/environments")
    assert listing.by_id("environments").find("a").attrs["href"] == "/environments/production"


def test_environment_pages_when_nothing_was_deployed(empty: TestClient) -> None:
    _, doc = page(empty, "/environments")
    assert "Nothing has been deployed yet" in doc.find("p", class_="empty").text
    page(empty, "/environments/staging", 404)
    page(empty, "/environments/bad%20name", 400)


# --- ledger, search, velocity ---------------------------------------------------------------


def test_ledger_page_before_any_checkpoint_or_verification_says_how_to_make_them(
    empty: TestClient,
) -> None:
    _, doc = page(empty, "/ledger")
    texts = [p.text for p in doc.find_all("p", class_="empty")]
    assert any("shiplog ledger checkpoint" in t for t in texts)
    assert any("shiplog verify" in t for t in texts)


def test_ledger_page_shows_the_latest_checkpoint_and_the_recorded_verification(
    web: TestClient, store: EventStore, history: History, settings: Settings, cli: CliRunner
) -> None:
    from app.cli import app as shiplog

    assert cli.invoke(shiplog, ["ledger", "checkpoint"]).exit_code == 0
    assert cli.invoke(shiplog, ["verify"]).exit_code == 0
    _, doc = page(web, "/ledger")
    checkpoint = doc.by_id("checkpoint").text
    assert f"{len(store.read_all())} events" in checkpoint
    assert re.search(r"[0-9a-f]{64}", checkpoint)
    verdict = doc.by_id("verification").text
    assert "ok" in verdict and f"{len(store.read_all())} events" in verdict


@pytest.mark.parametrize(
    ("query", "target"),
    [
        ("{run}", "/runs/{run}"),
        ("{run_prefix}", "/runs/{run}"),
        (COMMIT[:10], "/runs/{run}"),
        (DIGEST, f"/images/{DIGEST}"),
        (DIGEST[:19], f"/images/{DIGEST}"),
        (IMAGE_ID[7:20], f"/images/{IMAGE_ID}"),
        ("127.0.0.1:5055/acme/hello:1.0.0", f"/images/{DIGEST}"),
        ("hello:1.0.0", f"/images/{IMAGE_ID}"),
    ],
)
def test_search_goes_to_the_page_a_digest_commit_run_id_or_tag_names(
    web: TestClient, history: History, query: str, target: str
) -> None:
    run = history.run_id
    q = query.format(run=run, run_prefix=run[:8])
    response = web.get("/search", params={"q": q}, follow_redirects=False)
    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"] == target.format(run=run)


def test_search_for_nothing_known_is_a_404_page_saying_what_was_sought(
    web: TestClient, history: History
) -> None:
    _, doc = page(web, "/search?q=no-such-thing", 404)
    assert "no-such-thing" in doc.find("p", class_="empty").text
    page(web, "/search?q=", 400)


def test_every_page_answers_html_and_the_api_keeps_its_json_errors(
    web: TestClient, history: History
) -> None:
    for url in ("/", "/timeline", "/velocity", "/ledger", "/environments"):
        page(web, url)
    page(web, "/no/such/page", 404)
    api = web.get("/api/events?limit=0")
    assert api.status_code == 422 and api.headers["content-type"] == "application/json"


# --- metrics and probes ---------------------------------------------------------------------


def test_metrics_report_runs_steps_queue_lag_append_rate_and_checkpoint_age(
    web: TestClient, history: History, cli: CliRunner
) -> None:
    from app.cli import app as shiplog

    text = web.get("/metrics").text
    assert 'shiplog_runs{status="succeeded"} 1.0' in text
    assert "shiplog_queue_depth 0.0" in text
    assert 'shiplog_step_duration_seconds_bucket{le="5.0"} 4.0' in text
    assert "shiplog_step_duration_seconds_count 4.0" in text
    assert 'shiplog_projection_lag_events{projection="runs",version="1"} 0.0' in text
    assert re.search(r"^shiplog_ledger_append_rate [0-9.e-]+$", text, re.M)
    assert "shiplog_latest_checkpoint_age_seconds" not in text  # nothing sealed yet
    assert cli.invoke(shiplog, ["ledger", "checkpoint"]).exit_code == 0
    assert "shiplog_latest_checkpoint_age_seconds" in web.get("/metrics").text


def test_readyz_is_unavailable_while_a_projection_lags_far_behind(
    web: TestClient, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = Metadata(actor="alice", source="test")
    store.append("run-lag-1", [queued()], ANY, meta)
    store.append("run-lag-2", [queued("1" * 40)], ANY, meta)
    monkeypatch.setattr(health, "MAX_PROJECTION_LAG", 1)
    monkeypatch.setattr(health.projections_behind, "__defaults__", (1,))
    response = web.get("/readyz")
    assert response.status_code == 503
    assert response.json()["behind"] == {p.name: 2 for p in PROJECTIONS}
    projector(store).catch_up_all()
    assert web.get("/readyz").status_code == 200


def test_velocity_page_shows_the_four_dora_figures_weekly_charts_and_stages(
    web: TestClient, history: History
) -> None:
    _, doc = page(web, "/velocity?environment=production&days=7")
    [group] = doc.find_all("section", class_="group")
    assert "web in production" in group.find("h2").text
    cards = [card.text for card in group.find_all("div", class_="card")]
    assert [c.split(" ")[0] for c in cards] == ["Deployment", "Lead", "Change", "Failed"]
    assert "2 deployments" in cards[0]
    assert "1 of 2 deployments" in cards[2]  # dep-new caused the incident
    assert "Lead time for changes 2 h 00 min" in cards[1] and "1 change " in cards[1]
    charts = {c.find("figcaption").text: c for c in group.find_all("figure", class_="chart")}
    assert next(iter(charts)) == "Deployments per week"
    lead = charts["Lead time per week (p50, p90)"]
    assert [line.find("title").text for line in lead.find_all("polyline")] == ["p50", "p90"]
    bars = group.find("figure", class_="chart").find("svg").find_all("rect")
    assert sum(float(b.find("title").text.rsplit(": ", 1)[1]) for b in bars) == 2
    stages = [row.find("th").text for row in doc.by_id("stages").find("tbody").find_all("tr")]
    assert stages == ["queue", "build", "test", "push"]
    assert doc.by_id("computed").find("time") is not None  # when the kept figures were made
    _, other = page(web, "/velocity?service=api", 400)
    assert "'service'" in other.find("p", class_="error").text


def test_velocity_page_of_an_empty_ledger_and_bad_windows(empty: TestClient) -> None:
    _, doc = page(empty, "/velocity")
    assert "No deployment to production finished in this window" in doc.by_id("no-deployments").text
    for bad in ("days=0", "days=week", "service=%20bad%20name", "environment=staging"):
        page(empty, f"/velocity?{bad}", 400)


@pytest.mark.parametrize(
    "url",
    [
        "/?actor=a%00b",
        "/?repository=%00",
        "/search?q=abc%00",
        "/velocity?service=x%00",
        "/live/timeline?actor=%00",
        "/live/runs/not-a-run/steps/build/log",
        "/live/runs/5d6f0b9e-2a44-4c4e-9a57-4b3c2d1e0f00/steps/a%00/log",
        "/live/runs/5d6f0b9e-2a44-4c4e-9a57-4b3c2d1e0f00/steps/build/log?after=-1",
        "/runs/x/summary",
        "/images/" + "sha256:" + "A" * 64,
        "/environments/" + "e" * 300,
    ],
)
def test_hostile_parameters_get_a_4xx_page_never_a_500(
    web: TestClient, history: History, url: str
) -> None:
    response = web.get(url)
    assert 400 <= response.status_code < 500, (url, response.status_code, response.text[:300])
    assert "text/html" in response.headers["content-type"]


def test_serve_prints_the_web_timeline_address_and_how_to_stop_it(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer
    import uvicorn

    from app.cli import serve_command

    served: list[tuple[str, int]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port: served.append((host, port)))
    shiplog = typer.Typer()
    serve_command.register(shiplog)
    shiplog.command("noop")(lambda: None)
    result = cli.invoke(shiplog, ["serve", "--port", "8099"])
    assert result.exit_code == 0, result.output
    assert "web timeline at http://127.0.0.1:8099/ (Ctrl-C stops it)" in result.output
    assert served == [("127.0.0.1", 8099)]
