"""The `deploy` step kind: a pipeline delivers what it built, under the same rules as the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.projections import projector
from app.services.access import Role
from events.store import EventStore
from events.vocabulary import (
    DeploymentRequested,
    DeploymentTimedOut,
    ProvenanceSigned,
    StepFinished,
    StepStarted,
)
from tests.support.delivery import (
    FAST_ROLLING,
    HEALTH,
    app_files,
    as_principal,
    environments,
    swarm_image,
    write_environments,
)
from tests.support.runs import SHIPLOG, make_repo, of_type, run_events, wait_until

pytestmark = pytest.mark.usefixtures("leftover_guard", "osv_advisories")


def pipeline(tag: str, repository: str, production_timeout: str) -> str:
    """Build, test, push, scan, then deploy to staging (own settings) and production."""
    staging = {"replicas": 2, "health": HEALTH, "rolling": FAST_ROLLING}
    return f"""\
name: delivered
steps:
  - name: build
    build: {{args: {{VERSION: "1", MODE: good}}, tags: ["{tag}:1"]}}
  - name: test
    image: {tag}:1
    commands: [app-test /workspace/reports/app.xml]
    reports: [reports/app.xml]
  - name: push
    push: {{image: "{tag}:1", repository: {repository}, tags: ["1"]}}
  - name: scan
    scan: {{image: build}}
  - name: staging
    deploy: {json.dumps({"environment": "staging", "service": "web", "image": "build", **staging})}
  - name: production
    timeout: {production_timeout}
    deploy: {{environment: production, service: web, image: build}}
"""


def start_run(settings: Settings, repo: Path, log: Path) -> subprocess.Popen[bytes]:
    """`shiplog run` of the repository in a process of its own (it waits at a deploy step)."""
    env = {
        **os.environ,
        "SHIPLOG_HOME": str(settings.home),
        "SHIPLOG_DATABASE_URL": settings.database_url or "",
        "SHIPLOG_ACTOR": "paula",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(SHIPLOG), "run", str(repo)], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def waiting_request(store: EventStore) -> DeploymentRequested | None:
    """Production's DeploymentRequested, once the run's deploy step asked."""
    found = [e.data for e in store.read_stream("env-production")]
    return next((e for e in found if isinstance(e, DeploymentRequested)), None)


def test_a_pipeline_delivers_to_staging_and_waits_at_production_for_an_approval_on_its_page(
    store: EventStore,
    settings: Settings,
    client: TestClient,
    registry: Any,
    swarm: Any,
    namespace: str,
    tmp_path: Path,
) -> None:
    write_environments(settings, environments(namespace, approvals={"count": 1}))
    tag = f"shiplog-test/deliv-{uuid.uuid4().hex[:10]}"
    repository = f"{registry.address}/{tag}"
    repo = make_repo(tmp_path / "app", app_files(pipeline(tag, repository, "10m")))
    run = start_run(settings, repo, tmp_path / "run.log")
    try:
        wait_until(lambda: waiting_request(store) is not None, timeout=240, what="production's ask")
        asked = waiting_request(store)
        assert asked is not None and asked.run_id is not None
        projector(store).catch_up_all()
        page = client.get(f"/runs/{asked.run_id}").text
        assert f'id="decide-{asked.deployment_id}"' in page and "0 of 1 approval(s)" in page

        as_principal(client, "paula", Role.APPROVER)  # who queued the run may not approve
        own = client.post(
            f"/environments/production/deployments/{asked.deployment_id}/approve",
            data={"image_digest": asked.image_digest, "evidence_sha256": asked.evidence_sha256},
        )
        assert own.status_code == 403
        as_principal(client, "carol", Role.APPROVER)
        approved = client.post(
            f"/environments/production/deployments/{asked.deployment_id}/approve",
            data={"image_digest": asked.image_digest, "evidence_sha256": asked.evidence_sha256},
            follow_redirects=False,
        )
        assert approved.status_code == 303
        assert run.wait(timeout=240) == 0, (tmp_path / "run.log").read_text()
    finally:
        run.kill()
    events = run_events(store, asked.run_id)
    started = [e for e in of_type(events, StepStarted) if e.image == "shiplog deploy"]
    assert [s.step for s in started] == ["staging", "production"]
    finished = {f.step: f.exit_code for f in of_type(events, StepFinished)}
    assert finished["staging"] == finished["production"] == 0
    signed = of_type(events, ProvenanceSigned)
    assert len(signed) == 1 and asked.image_digest in signed[0].subject_digests
    order = [(e.type_name, getattr(e.data, "step", None)) for e in events]
    # signed inside the first deploy step, before it asked for its deployment
    assert order.index(("StepStarted", "staging")) < order.index(("ProvenanceSigned", "build"))
    assert order.index(("ProvenanceSigned", "build")) < order.index(("StepFinished", "staging"))
    staged = store.read_stream("env-staging")
    assert staged[0].metadata.actor == "paula" and isinstance(staged[0].data, DeploymentRequested)
    assert json.loads(staged[0].data.settings)["replicas"] == 2  # the step's own settings
    service = swarm.services.get(f"{namespace}-stg-web")
    assert service.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 2
    assert swarm_image(swarm, f"{namespace}-prd-web") == f"{repository}@{asked.image_digest}"


def test_a_deploy_step_that_runs_out_of_time_waiting_withdraws_its_deployment(
    store: EventStore,
    settings: Settings,
    registry: Any,
    swarm: Any,
    namespace: str,
    tmp_path: Path,
) -> None:
    write_environments(settings, environments(namespace, approvals={"count": 1}))
    tag = f"shiplog-test/deliv-{uuid.uuid4().hex[:10]}"
    repo = make_repo(tmp_path / "app", app_files(pipeline(tag, f"{registry.address}/{tag}", "3s")))
    run = start_run(settings, repo, tmp_path / "run.log")
    try:
        assert run.wait(timeout=300) == 1, (tmp_path / "run.log").read_text()
    finally:
        run.kill()
    last = store.read_stream("env-production")[-1].data
    assert isinstance(last, DeploymentTimedOut) and last.waiting_for == ("approvals",)
    log = (tmp_path / "run.log").read_text()
    assert "waiting for 0 of 1 approval(s)" in log and "waited longer than its timeout (3 s)" in log
