"""Lead time joins a deployment to its pushed commits however each names the repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from app.projections import projector
from events.catalogue import Metadata
from events.store import ANY, EventStore
from events.vocabulary import Commit, CommitsPushed

SHA = "a" * 40
PUSHED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_lead_time_joins_a_clone_url_spelling_to_the_canonical_push(
    client: TestClient, store: EventStore
) -> None:
    pushed = CommitsPushed(
        repository="github.com/acme/web",
        ref="refs/heads/main",
        commits=(Commit(sha=SHA, authored_at=PUSHED, author="Ada <ada@example.com>"),),
        forge="github",
        before="0" * 40,
        after=SHA,
    )
    store.append("repo-github.com/acme/web", [pushed], ANY, Metadata(actor="github:test"))
    deployed = {
        "environment": "production",
        "service": "web",
        "image_digest": "sha256:" + "b" * 64,
        "status": "succeeded",
        "repository": "git@github.com:Acme/Web.git",
        "commit": SHA,
        "started_at": (PUSHED + timedelta(hours=2)).isoformat(),
        "finished_at": (PUSHED + timedelta(hours=3)).isoformat(),
    }
    assert client.post("/api/deployments", json=deployed).status_code == 201
    projector(store).catch_up_all()
    answer = client.get(
        "/api/velocity",
        params={"since": PUSHED.isoformat(), "until": (PUSHED + timedelta(days=1)).isoformat()},
    )
    assert answer.status_code == 200, answer.text
    (group,) = answer.json()["services"]
    assert group["lead_time"]["count"] == 1
    assert group["lead_time"]["median"] == 3 * 3600
