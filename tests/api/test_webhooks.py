"""Forge webhooks at the HTTP door: signatures proven, pushes recorded once, the rest refused.

Requests are built as each forge sends them (tests/support/forge_payloads.py) and signed
in the test with the secret the registration answered. Turning accepted deliveries into
runs is tested with a real git server in tests/forges/test_webhook_runs.py.
"""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient

from app.database import Database
from app.queries.repositories import recent_deliveries
from events.store import EventStore
from tests.support.forge_payloads import (
    ZERO,
    commit,
    github_ping,
    github_pull_request,
    github_push,
    gitlab_merge_request,
    gitlab_push,
    signed_gitea,
    signed_github,
    signed_gitlab,
)

GITHUB = "https://github.com/acme/web"
GITEA = "https://gitea.example.org/acme/web"
GITLAB = "https://gitlab.example.com/group/sub/web"
SHA1, SHA2 = "1" * 40, "2" * 40


def register(client: TestClient, url: str, forge: str) -> str:
    """Register `url` on `forge`; the webhook secret."""
    answer = client.post("/api/repositories", json={"url": url + ".git", "forge": forge})
    assert answer.status_code == 201, answer.text
    secret: str = answer.json()["webhook_secret"]
    return secret


def post(client: TestClient, forge: str, body: bytes, headers: dict[str, str]) -> dict[str, object]:
    """POST a delivery; the answer as {status, body}."""
    answer = client.post(f"/hooks/{forge}", content=body, headers=headers)
    return {"status": answer.status_code, **answer.json()}


def push(html: str = GITHUB, after: str = SHA2) -> dict[str, object]:
    """A push of one commit to main."""
    return github_push(html, "acme/web", "refs/heads/main", SHA1, after, [commit(after)])


def test_a_github_ping_is_answered_with_no_side_effect(
    client: TestClient, store: EventStore
) -> None:
    secret = register(client, GITHUB, "github")
    before = len(store.read_all())
    answer = post(client, "github", *signed_github(secret, "ping", github_ping(GITHUB, "acme/web")))
    assert answer == {"status": 200, "ping": "ok", "repository": "github.com/acme/web"}
    assert len(store.read_all()) == before


def test_a_signed_push_records_its_commits_once_as_the_forge_and_queues_the_work(
    client: TestClient, store: EventStore, database: Database
) -> None:
    secret = register(client, GITHUB, "github")
    body, headers = signed_github(secret, "push", push())
    answer = post(client, "github", body, headers)
    assert answer["status"] == 202 and answer["event"] == "push", answer
    (pushed,) = [e for e in store.read_stream("repo-github.com/acme/web") if
                 e.type_name == "CommitsPushed"]  # fmt: skip
    assert pushed.metadata.actor == "github:github.com/acme/web"
    data = pushed.data.model_dump(mode="json")
    assert data["repository"] == "github.com/acme/web" and data["forge"] == "github"
    assert data["commits"] == [
        {
            "sha": SHA2,
            "authored_at": "2026-03-02T09:00:00Z",
            "author": "Ada Lovelace <ada@example.com>",
        }
    ]
    (delivery,) = recent_deliveries(database.app_url)
    assert (delivery.event, delivery.ref, delivery.sha, delivery.state) == (
        "push", "refs/heads/main", SHA2, "pending")  # fmt: skip
    # GitHub's "Redeliver" sends the same delivery id: nothing new happens.
    again = post(client, "github", body, headers)
    assert again == {"status": 200, "duplicate": True, "delivery": headers["X-GitHub-Delivery"]}
    assert len(recent_deliveries(database.app_url)) == 1
    assert [e.type_name for e in store.read_stream("repo-github.com/acme/web")].count(
        "CommitsPushed"
    ) == 1


def test_a_bad_or_missing_signature_is_refused_and_recorded_without_body_or_secret(
    client: TestClient, store: EventStore
) -> None:
    secret = register(client, GITHUB, "github")
    body, headers = signed_github(secret, "push", push())
    forged = post(client, "github", body.replace(b"Fix the build", b"Break the build"), headers)
    assert forged == {"status": 401, "detail": "signature does not match"}
    unsigned = {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"}
    assert post(client, "github", body, unsigned)["status"] == 401
    wrong = signed_github("not-the-secret", "push", push())
    assert post(client, "github", *wrong)["status"] == 401
    stream = store.read_stream("repo-github.com/acme/web")
    rejected = [e for e in stream if e.type_name == "WebhookRejected"]
    assert [e.data.model_dump()["reason"] for e in rejected] == [
        "signature does not match", "no X-Hub-Signature-256 header", "signature does not match"
    ]  # fmt: skip
    assert rejected[0].data.model_dump()["delivery"] == headers["X-GitHub-Delivery"]
    assert all(e.metadata.actor.startswith("webhook:github@") for e in rejected)
    recorded = json.dumps([e.data.model_dump(mode="json") for e in stream])
    assert secret not in recorded and "Fix the build" not in recorded
    assert not [e for e in stream if e.type_name == "CommitsPushed"]


def test_an_unregistered_repository_is_refused_into_the_forges_stream(
    client: TestClient, store: EventStore
) -> None:
    answer = post(client, "github", *signed_github("whatever", "push", push()))
    assert answer == {"status": 401, "detail": "repository not registered"}
    (rejected,) = store.read_stream("hooks-github")
    assert rejected.data.model_dump()["repository"] == "github.com/acme/web"
    assert store.stream_version("repo-github.com/acme/web") is None  # no stream of its choosing
    not_json = post(client, "github", b"<xml/>", {"X-GitHub-Event": "push"})
    assert not_json == {"status": 400, "detail": "the body is not a JSON object"}


def test_rejections_are_recorded_at_a_limited_rate_with_a_count_of_the_rest(
    client: TestClient, store: EventStore
) -> None:
    register(client, GITHUB, "github")
    body, headers = signed_github("wrong", "push", push())
    answers = {post(client, "github", body, headers)["status"] for _ in range(30)}
    assert answers == {401}  # every one refused
    recorded = [e for e in store.read_stream("repo-github.com/acme/web")
                if e.type_name == "WebhookRejected"]  # fmt: skip
    assert 1 <= len(recorded) <= 6  # a burst of 5, and perhaps one refilled meanwhile


def test_unknown_events_are_accepted_and_ignored(client: TestClient, store: EventStore) -> None:
    secret = register(client, GITHUB, "github")
    payload = {"action": "created", "repository": push()["repository"]}
    answer = post(client, "github", *signed_github(secret, "star", payload))
    assert answer == {"status": 202, "ignored": "GitHub event 'star'"}
    closed = github_pull_request(GITHUB, "acme/web", 7, "closed", SHA2)
    assert post(client, "github", *signed_github(secret, "pull_request", closed)) == {
        "status": 202, "ignored": "pull request closed"}  # fmt: skip
    deleted = github_push(GITHUB, "acme/web", "refs/heads/old", SHA1, ZERO, [])
    assert post(client, "github", *signed_github(secret, "push", deleted))["ignored"] == (
        "refs/heads/old was deleted"
    )


def test_a_signed_but_malformed_payload_is_a_400_naming_the_field(client: TestClient) -> None:
    secret = register(client, GITHUB, "github")
    payload = push()
    del payload["after"]
    answer = post(client, "github", *signed_github(secret, "push", payload))
    assert answer == {"status": 400, "detail": "the payload has no after"}


def test_a_pull_request_from_a_fork_is_queued_untrusted(
    client: TestClient, database: Database
) -> None:
    secret = register(client, GITHUB, "github")
    own = github_pull_request(GITHUB, "acme/web", 7, "opened", SHA1)
    fork = github_pull_request(GITHUB, "acme/web", 8, "synchronize", SHA2, head_full_name="eve/web")
    assert post(client, "github", *signed_github(secret, "pull_request", own))["status"] == 202
    assert post(client, "github", *signed_github(secret, "pull_request", fork))["status"] == 202
    import psycopg

    with psycopg.connect(database.app_url) as conn:
        rows = conn.execute("SELECT trigger FROM webhook_deliveries ORDER BY id").fetchall()
    assert [(r[0]["ref"], r[0]["branch"], r[0]["untrusted"]) for r in rows] == [
        ("refs/pull/7/head", "main", False),
        ("refs/pull/8/head", "main", True),
    ]


def test_gitea_is_idempotent_on_repository_ref_and_sha_across_new_delivery_ids(
    client: TestClient, store: EventStore
) -> None:
    secret = register(client, GITEA, "gitea")
    payload = push(GITEA)
    first = post(client, "gitea", *signed_gitea(secret, "push", payload))
    assert first["status"] == 202 and first["repository"] == "gitea.example.org/acme/web"
    replay = post(client, "gitea", *signed_gitea(secret, "push", payload, str(uuid.uuid4())))
    assert replay["status"] == 200 and replay["duplicate"] is True
    body, headers = signed_gitea(secret, "push", payload)
    headers["X-Gitea-Signature"] = "0" * 64
    assert post(client, "gitea", body, headers) == {
        "status": 401,
        "detail": "signature does not match",
    }


@pytest.mark.parametrize("signing", [False, True], ids=["secret-token", "signing-token"])
def test_gitlab_pushes_tags_and_merge_requests_with_either_proof(
    client: TestClient, store: EventStore, signing: bool
) -> None:
    secret = register(client, GITLAB, "gitlab")
    path = "group/sub/web"
    pushed = gitlab_push(GITLAB, path, "refs/heads/main", SHA1, SHA2, [commit(SHA2)])
    key = str(uuid.uuid4())
    first = post(
        client, "gitlab", *signed_gitlab(secret, "Push Hook", pushed, key, signing=signing)
    )
    assert first["status"] == 202 and first["repository"] == "gitlab.example.com/group/sub/web"
    again = post(
        client, "gitlab", *signed_gitlab(secret, "Push Hook", pushed, key, signing=signing)
    )
    assert again["status"] == 200 and again["duplicate"] is True  # same Idempotency-Key
    tag = gitlab_push(GITLAB, path, "refs/tags/v1.0.0", ZERO, SHA2, [])
    tagged = post(client, "gitlab", *signed_gitlab(secret, "Tag Push Hook", tag, signing=signing))
    assert tagged["status"] == 202 and tagged["event"] == "tag"
    mr = gitlab_merge_request(GITLAB, path, 3, "open", SHA2, source_project_id=99)
    opened = post(
        client, "gitlab", *signed_gitlab(secret, "Merge Request Hook", mr, signing=signing)
    )
    assert opened["status"] == 202 and opened["event"] == "pull_request"
    body, headers = signed_gitlab("whsec_" + "A" * 43 + "=", "Push Hook", pushed, signing=signing)
    assert post(client, "gitlab", body, headers)["status"] == 401
    pushes = [e for e in store.read_stream("repo-gitlab.example.com/group/sub/web")
              if e.type_name == "CommitsPushed"]  # fmt: skip
    assert (
        len(pushes) == 1 and pushes[0].metadata.actor == "gitlab:gitlab.example.com/group/sub/web"
    )


def test_a_repository_registered_on_one_forge_is_refused_on_another(client: TestClient) -> None:
    secret = register(client, GITHUB, "github")
    answer = post(client, "gitea", *signed_gitea(secret, "push", push()))
    assert answer == {"status": 401, "detail": "repository is registered as a github repository"}
