"""Delivery through the HTTP API and the pages' buttons: the same command, the same rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.config import Settings
from app.projections import projector
from events.store import EventStore
from events.vocabulary import PromotionRefused
from tests.support.delivery import build_app, environments, swarm_image, write_environments

pytestmark = pytest.mark.usefixtures("leftover_guard", "osv_advisories")


def test_the_api_refuses_a_digest_staging_never_ran_and_delivers_it_through_staging(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    client: TestClient,
    registry: Any,
    swarm: Any,
    namespace: str,
    tmp_path: Path,
) -> None:
    images = build_app(cli, store, tmp_path / "app", registry, {"v1": "good"})
    write_environments(settings, environments(namespace))
    digest = images["v1"]

    early = client.post(
        "/api/environments/production/deployments", json={"service": "web", "image_digest": digest}
    )
    assert early.status_code == 409, early.text
    assert [r["policy"] for r in early.json()["refusals"]] == ["requires"]
    refused = store.read_stream("env-production")[-1].data
    assert isinstance(refused, PromotionRefused) and refused.policy == "requires"
    assert "staging" in refused.reason and refused.image_digest == digest
    assert {item.kind for item in refused.evidence} == {"provenance", "scan", "tests"}

    answer = client.post(
        "/api/environments/staging/deployments", json={"service": "web", "image_digest": digest}
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "waiting" and body["requested_by"]
    state = client.get(f"/api/environments/staging/deployments/{body['deployment_id']}")
    assert state.json()["status"] == "succeeded", state.text  # the rollout ran after the answer
    assert swarm_image(swarm, f"{namespace}-stg-web") == f"{images.repository}@{digest}"

    projector(store).catch_up_all()  # the pages' history reads the projections
    page = client.get("/environments/production")
    assert page.status_code == 200
    assert "requires a success in staging" in page.text
    assert f"Promote {digest[:12]}" in page.text
    image_page = client.get(f"/images/{digest}")
    assert 'action="/deliveries"' in image_page.text and "production / web" in image_page.text

    moved = client.post(
        "/environments/production/promote",
        data={"service": "web", "from_environment": "staging"},
        follow_redirects=False,
    )
    assert moved.status_code == 303 and moved.headers["location"] == "/environments/production"
    assert swarm_image(swarm, f"{namespace}-prd-web") == f"{images.repository}@{digest}"
    projector(store).catch_up_all()
    page = client.get("/environments/production")
    assert "succeeded" in page.text and "from staging" in page.text


def test_delivery_requests_that_name_nothing_known_are_clear_errors(
    client: TestClient, settings: Settings, namespace: str
) -> None:
    write_environments(settings, environments(namespace))
    digest = "sha256:" + "ab" * 32
    nowhere = client.post(
        "/api/environments/qa/deployments", json={"service": "web", "image_digest": digest}
    )
    assert nowhere.status_code == 404 and "no environment 'qa'" in nowhere.json()["detail"]
    unknown = client.post(
        "/api/environments/staging/deployments", json={"service": "db", "image_digest": digest}
    )
    assert unknown.status_code == 404 and "no service 'db'" in unknown.json()["detail"]
    tag = client.post(
        "/api/environments/staging/deployments", json={"service": "web", "image_digest": "v1"}
    )
    assert tag.status_code == 422 and tag.json()["detail"][0]["loc"] == ["body", "image_digest"]
    pushed_nowhere = client.post(
        "/api/environments/staging/deployments", json={"service": "web", "image_digest": digest}
    )
    assert pushed_nowhere.status_code == 409
    assert "no run of this shiplog pushed" in pushed_nowhere.json()["refusals"][0]["reason"]
    empty = client.post(
        "/api/environments/production/promotions",
        json={"service": "web", "from_environment": "staging"},
    )
    assert empty.status_code == 404 and "runs nothing in staging" in empty.json()["detail"]
    page = client.post("/deliveries", data={"target": "qa/web", "image_digest": digest})
    assert page.status_code == 404 and "no environment" in page.text


def test_a_broken_environments_file_refuses_delivery_but_leaves_the_pages_up(
    client: TestClient, settings: Settings, store: EventStore
) -> None:
    settings.environments_path.parent.mkdir(parents=True, exist_ok=True)
    settings.environments_path.write_text("environments:\n  - name: staging\n    soak: soon\n")
    digest = "sha256:" + "ab" * 32
    refused = client.post(
        "/api/environments/staging/deployments", json={"service": "web", "image_digest": digest}
    )
    assert refused.status_code == 503
    assert "environments.yml:3:11: environments[0].soak: 'soon' is not a period" in refused.text
    projector(store).catch_up_all()
    page = client.get("/environments")
    assert page.status_code == 200
