"""Notifications from rules to a local receiver: signed, retried, throttled, grouped, restart-proof.

The receiver (tests/support/receiver.py) stands in for Slack and webhook endpoints; it
fails, delays, answers 429 with Retry-After and 410 as scripted, and the tests verify
the Standard Webhooks signature of what it got with the `standardwebhooks` library.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from app.config import Settings
from app.database import Database
from app.notify.backoff import Backoff
from app.notify.rules import Rule
from app.services.notifications import deliver_next, match_new_events
from app.supplychain.service import FindingsDocument
from app.supplychain.storage import store_findings
from events.canonical import canonical_json
from events.catalogue import Metadata
from events.store import ANY, EventStore
from events.vocabulary import (
    CanaryAborted,
    DeploymentRequested,
    DriftDetected,
    DriftResolved,
    Finding,
    RunClaimed,
    RunFailed,
    RunQueued,
    RunSucceeded,
    ScanCompleted,
    SeverityCounts,
)
from tests.support.receiver import Answer, Receiver, receiver

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
RUNNER = Metadata(actor="runner:test", source="runner")
FAST = Backoff(base=0.05, cap=0.2, attempts=3)
PUBLIC = "https://shiplog.example.com"


@pytest.fixture
def hook() -> Iterator[Receiver]:
    """A receiver for the test."""
    with receiver() as running:
        yield running


def add_target(
    client: TestClient, name: str, url: str, kind: str = "webhook", **extra: object
) -> None:
    """Register a target through the API (an admin action)."""
    body = {"name": name, "kind": kind, "url": url, "allow_private": True, **extra}
    answer = client.post("/api/notifications/targets", json=body)
    assert answer.status_code == 201, answer.text


def run(store: EventStore, number: int, outcome: str, branch: str = "main") -> str:
    """Append a run of acme/web on `branch` that ended with `outcome`; its id."""
    run_id = f"00000000-0000-4000-8000-{number:012d}"
    queued = RunQueued(
        repository="https://github.com/acme/web.git",
        commit=f"{number:040x}",
        ref=f"refs/heads/{branch}",
        trigger="push",
        pipeline_path=".shiplog.yml",
        pipeline_digest="sha256:" + "0" * 64,
    )
    end = (
        RunSucceeded(duration_ms=5)
        if outcome == "success"
        else RunFailed(reason="step 'test' failed", step="test")
    )
    store.append(f"run-{run_id}", [queued, end], ANY, RUNNER)
    return run_id


RULE = Rule(name="runs", events=("RunFailed", "RunSucceeded"), targets=("hook",))


def start_rules(store: EventStore, database: Database) -> None:
    """The first look sets the cursor at the head: history is not announced."""
    assert match_new_events(store, database.app_url, [RULE], PUBLIC) == 0


def deliver(
    store: EventStore, database: Database, timeout: float = 5.0, keyring: Path | None = None
) -> object:
    """Deliver the next due message (with the secrets keyring where it needs a credential)."""
    return deliver_next(store, database.app_url, FAST, timeout=timeout, keyring=keyring)


def notify_events(store: EventStore, target: str = "hook") -> list[dict[str, object]]:
    """NotificationSent/Failed of a target, as recorded."""
    return [
        {"type": e.type_name, **e.data.model_dump(mode="json")}
        for e in store.read_stream(f"notify-{target}")
        if e.type_name.startswith("Notification") and "Target" not in e.type_name
    ]


def test_a_failed_run_is_sent_signed_as_standard_webhooks_and_recorded(
    client: TestClient, store: EventStore, database: Database, hook: Receiver
) -> None:
    add_target(client, "hook", hook.url + "/shiplog?token=abc", secrets=[SECRET, OLD_SECRET])
    start_rules(store, database)
    run_id = run(store, 1, "failure")
    match_new_events(store, database.app_url, [RULE], PUBLIC)
    assert deliver(store, database) is not None
    (got,) = hook.received
    payload = Webhook(SECRET).verify(got.body, got.headers)
    assert Webhook(OLD_SECRET).verify(got.body, got.headers) == payload  # rotation: both sign
    assert got.path == "/shiplog?token=abc"
    assert payload["type"] == "shiplog.notification"
    (notice,) = payload["data"]["notices"]
    assert notice["event"] == "RunFailed" and notice["state"] == "failure"
    assert notice["link"] == f"{PUBLIC}/runs/{run_id}"
    (sent,) = notify_events(store)
    assert sent["type"] == "NotificationSent" and sent["attempt"] == 1 and sent["status"] == 200
    assert sent["body_sha256"] == hashlib.sha256(got.body).hexdigest()
    assert sent["message_id"] == got.headers["webhook-id"]
    ledger = json.dumps([e.data.model_dump(mode="json") for e in store.read_all()])
    assert "token=abc" not in ledger and SECRET not in ledger


def test_failures_are_retried_with_the_same_id_and_body_and_retry_after_is_honoured(
    client: TestClient, store: EventStore, database: Database, hook: Receiver
) -> None:
    add_target(client, "hook", hook.url, secrets=[SECRET])
    start_rules(store, database)
    run(store, 1, "failure")
    match_new_events(store, database.app_url, [RULE], PUBLIC)
    hook.answer(Answer(503), Answer(429, {"Retry-After": "1"}))
    deliver(store, database)
    time.sleep(0.3)
    deliver(store, database)  # 429, Retry-After: 1
    assert deliver(store, database) is None  # not due before the receiver asked
    time.sleep(1.1)
    assert deliver(store, database) is not None
    first, second, third = hook.received
    assert first.body == second.body == third.body
    assert {r.headers["webhook-id"] for r in hook.received} == {first.headers["webhook-id"]}
    failed_503, failed_429, sent = notify_events(store)
    assert (failed_503["status"], failed_503["final"], failed_503["reason"]) == (
        503,
        False,
        "HTTP 503",
    )
    assert failed_429["status"] == 429 and failed_429["retry_at"] is not None
    assert (sent["type"], sent["attempt"]) == ("NotificationSent", 3)


def test_a_410_disables_the_target_and_a_time_out_is_a_failure(
    client: TestClient, store: EventStore, database: Database, hook: Receiver
) -> None:
    add_target(client, "hook", hook.url)
    start_rules(store, database)
    run(store, 1, "failure")
    match_new_events(store, database.app_url, [RULE], PUBLIC)
    hook.answer(Answer(200, delay=1.5))
    deliver(store, database, timeout=0.3)
    hook.answer(Answer(410))
    time.sleep(0.3)
    deliver(store, database)
    timed_out, gone = notify_events(store)
    assert timed_out["status"] is None and timed_out["reason"] == "timed out after 0.3s"
    assert (gone["status"], gone["final"]) == (410, True)
    kinds = [e.type_name for e in store.read_stream("notify-hook")]
    assert kinds[-1] == "NotificationTargetDisabled"
    listed = client.get("/api/notifications/targets").json()
    assert listed[0]["disabled"] == "the receiver answered 410 Gone"
    run(store, 2, "success")
    match_new_events(store, database.app_url, [RULE], PUBLIC)
    assert deliver(store, database) is not None  # dropped: the target is gone
    assert len(hook.received) == 2


def test_loopback_is_refused_unless_the_target_allows_it(
    client: TestClient, store: EventStore, database: Database, hook: Receiver
) -> None:
    add_target(client, "hook", hook.url, allow_private=False)
    start_rules(store, database)
    run(store, 1, "failure")
    match_new_events(store, database.app_url, [RULE], PUBLIC)
    deliver(store, database)
    (failed,) = notify_events(store)
    assert failed["final"] is True and "loopback, private or reserved" in str(failed["reason"])
    assert hook.received == []
    bad = client.post(
        "/api/notifications/targets", json={"name": "x", "kind": "webhook", "url": "ftp://a/b"}
    )
    assert bad.status_code == 422 and "http or https" in bad.text


def test_slack_gets_a_text_fallback_and_blocks_with_markup_escaped(
    client: TestClient, store: EventStore, database: Database, hook: Receiver
) -> None:
    add_target(client, "hook", hook.url, kind="slack")
    start_rules(store, database)
    run(store, 1, "failure", branch="fix/<!channel>&more")
    match_new_events(store, database.app_url, [RULE], PUBLIC)
    deliver(store, database)
    (got,) = hook.received
    body = json.loads(got.body)
    assert "fix/&lt;!channel&gt;&amp;more" in body["text"] and "<!channel>" not in got.body.decode()
    (block,) = body["blocks"]
    assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
    assert "|Open in shiplog>" in block["text"]["text"]


def test_a_subject_is_told_once_per_state_and_repeats_are_grouped(
    client: TestClient, store: EventStore, database: Database, hook: Receiver
) -> None:
    add_target(client, "hook", hook.url)
    start_rules(store, database)
    for number, outcome in enumerate(["failure", "failure", "failure", "success", "failure"]):
        run(store, number, outcome)
    run(store, 9, "failure", branch="other")
    grouped = Rule(
        name="runs", events=("RunFailed", "RunSucceeded"), targets=("hook",), group_seconds=1
    )
    match_new_events(store, database.app_url, [grouped], PUBLIC)
    time.sleep(1.1)
    while deliver(store, database) is not None:
        pass
    (got,) = hook.received  # one message for the whole burst
    notices = json.loads(got.body)["data"]["notices"]
    assert [(n["state"], n["subject"].rsplit("@", 1)[1]) for n in notices] == [
        ("failure", "main"), ("success", "main"), ("failure", "main"), ("failure", "other")
    ]  # fmt: skip
    (sent,) = notify_events(store)
    assert sent["items"] == 4


def test_a_scan_whose_findings_are_stored_apart_is_told_from_its_findings_document(
    client: TestClient, store: EventStore, database: Database, hook: Receiver
) -> None:
    add_target(client, "hook", hook.url)
    start_rules(store, database)
    image = "sha256:" + "c1" * 32
    grave = Finding(advisory="DSA-9", package="bash", installed_version="5.2", ecosystem="Debian",
                    purl="pkg:deb/debian/bash@5.2", severity="critical")  # fmt: skip
    mild = grave.model_copy(update={"advisory": "DSA-8", "severity": "low"})
    body = canonical_json({"findings": [f.model_dump(mode="json") for f in (grave, mild)]})
    document = FindingsDocument("sha256:" + hashlib.sha256(body).hexdigest(), body, 2)
    with store.connection() as conn:
        store_findings(conn, document)
    scan = ScanCompleted(image_digest=image, sbom_digest=image, advisory_set_digest=image,
                         advisories=2, findings_digest=document.digest, findings_total=2,
                         severities=SeverityCounts(critical=1, low=1))  # fmt: skip
    store.append(f"image-{image}", [scan], ANY, RUNNER)  # no fail_on: nothing inline
    rule = Rule(name="grave", events=("ScanCompleted",), targets=("hook",), running_only=False)
    match_new_events(store, database.app_url, [rule], PUBLIC)
    assert deliver(store, database) is not None
    (got,) = hook.received
    (notice,) = json.loads(got.body)["data"]["notices"]
    assert notice["state"] == "DSA-9" and notice["link"] == f"{PUBLIC}/images/{image}"


def test_deliveries_pending_survive_a_restart_of_shiplog(
    client: TestClient,
    store: EventStore,
    database: Database,
    hook: Receiver,
    tmp_path: Path,
) -> None:
    add_target(client, "hook", hook.url, secrets=[SECRET])
    rules = tmp_path / "rules.yml"
    rules.write_text("rules:\n  - name: runs\n    events: [RunFailed]\n    targets: [hook]\n")
    env = {
        **os.environ,
        "SHIPLOG_DATABASE_URL": database.app_url,
        "SHIPLOG_OWNER_DATABASE_URL": database.owner_url or "",
        "SHIPLOG_HOME": str(tmp_path / "home"),
        "SHIPLOG_NOTIFY_RULES": str(rules),
        "SHIPLOG_NOTIFY_RETRY_BASE": "0.05",
    }
    shiplog = [str(Path(sys.executable).parent / "shiplog"), "worker", "--once"]

    def worker() -> str:
        done = subprocess.run(
            shiplog, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    worker()  # the first look: the rules start at the ledger's head
    run(store, 1, "failure")
    hook.answer(Answer(500))
    assert "1 delivery attempt(s)" in worker()  # fails; the process ends with it pending
    time.sleep(0.3)
    assert "1 delivery attempt(s)" in worker()  # a new process delivers it
    failed, sent = notify_events(store)
    assert (failed["status"], sent["attempt"]) == (500, 2)
    assert Webhook(SECRET).verify(hook.received[-1].body, hook.received[-1].headers)


def test_delivery_decisions_in_a_named_environment_are_told_in_plain_words(
    client: TestClient, store: EventStore, database: Database, hook: Receiver
) -> None:
    add_target(client, "hook", hook.url)
    production = Rule(
        name="production",
        events=("DeploymentRequested", "CanaryAborted", "DriftDetected", "DriftResolved"),
        targets=("hook",),
        environments=("production",),
        group_seconds=1,
    )
    assert match_new_events(store, database.app_url, [production], PUBLIC) == 0
    digest = "sha256:" + "8f88752" + "0" * 57
    asked = DeploymentRequested(
        deployment_id="d1", service="web", image_digest=digest, image=f"reg/web@{digest}",
        strategy="canary", settings="{}", evidence_sha256="e" * 64, approvals_required=1,
        expires_at=datetime(2026, 1, 2, tzinfo=UTC),
    )  # fmt: skip
    aborted = CanaryAborted(
        deployment_id="d1", service="web", image_digest=digest, step=2, reason="5xx 3.1%"
    )
    drift = DriftDetected(service="web", differences=("replicas",))
    again = DriftDetected(service="web", differences=("replicas",))  # the same drift: told once
    store.append("env-staging", [asked], ANY, RUNNER)  # not production: not told
    store.append("env-production", [asked, aborted, drift, again], ANY, RUNNER)
    store.append("env-production", [DriftResolved(service="web", how="matches")], ANY, RUNNER)
    match_new_events(store, database.app_url, [production], PUBLIC)
    time.sleep(1.1)
    while deliver(store, database) is not None:
        pass
    (got,) = hook.received
    notices = json.loads(got.body)["data"]["notices"]
    assert [n["title"] for n in notices] == [
        "production: web waits for 1 approval of sha256:8f88752…",
        "production: canary of sha256:8f88752… in web aborted at step 2: 5xx 3.1%",
        "production: web drifted from the ledger (replicas)",
        "production: web matches the ledger again (matches)",
    ]
    assert {n["link"] for n in notices} == {f"{PUBLIC}/environments/production"}


@pytest.mark.parametrize(
    ("forge", "path", "auth", "states"),
    [
        (
            "github",
            "/repos/acme/web/statuses/",
            ("Authorization", "Bearer tok"),
            ["pending", "success"],
        ),
        (
            "gitea",
            "/repos/acme/web/statuses/",
            ("Authorization", "token tok"),
            ["pending", "success"],
        ),
        (
            "gitlab",
            "/projects/acme%2Fweb/statuses/",
            ("PRIVATE-TOKEN", "tok"),
            ["pending", "success"],
        ),
    ],
)
def test_commit_statuses_go_back_to_the_forge_for_repositories_that_ask(
    client: TestClient,
    store: EventStore,
    database: Database,
    settings: Settings,
    hook: Receiver,
    forge: str,
    path: str,
    auth: tuple[str, str],
    states: list[str],
) -> None:
    clone = "http://127.0.0.1:9/acme/web.git"
    registered = client.post(
        "/api/repositories",
        json={"url": clone, "forge": forge, "credential": "ci:tok", "commit_status": True,
              "api_url": hook.url},
    )  # fmt: skip
    assert registered.status_code == 201, registered.text
    start_rules(store, database)
    sha = "a" * 40
    queued = RunQueued(
        repository=clone,
        commit=sha,
        ref="refs/heads/main",
        trigger="push",
        pipeline_path=".shiplog.yml",
        pipeline_digest="sha256:" + "0" * 64,
    )
    stream = "run-00000000-0000-4000-8000-000000000042"
    store.append(stream, [queued, RunClaimed(runner="r", runner_version="1")], ANY, RUNNER)
    store.append(stream, [RunSucceeded(duration_ms=1)], ANY, RUNNER)
    match_new_events(store, database.app_url, [], PUBLIC)
    while deliver(store, database, keyring=settings.keyring_path) is not None:
        pass
    assert [r.path for r in hook.received] == [path + sha] * 2
    assert all(r.headers[auth[0]] == auth[1] for r in hook.received)
    bodies = [json.loads(r.body) for r in hook.received]
    assert [b["state"] for b in bodies] == states
    assert bodies[-1]["target_url"] == f"{PUBLIC}/runs/00000000-0000-4000-8000-000000000042"
    context = "name" if forge == "gitlab" else "context"
    assert bodies[-1][context] == "shiplog/.shiplog.yml"
