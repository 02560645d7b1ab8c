"""From a forge's webhook to a run at exactly the pushed commit, with a real git server.

The repository is served by `git http-backend` on loopback behind basic auth
(tests/support/git_server.py), so every fetch and clone that works proves the clone
credential was used. Webhooks are signed as GitHub signs; the worker settles the
deliveries; a real runner executes the runs on the Docker engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.database import Database
from app.executor.runner import Runner
from app.queries.logs import read_log
from app.queries.repositories import recent_deliveries
from app.services.triggers import process_next_delivery
from events.store import EventStore
from events.vocabulary import RunQueued, RunSucceeded
from tests.support.forge_payloads import commit, github_pull_request, github_push, signed_github
from tests.support.git_server import GitRepo, GitServer, git, git_server
from tests.support.runs import fast_settings, of_type, run_events, wait_until, working

pytestmark = pytest.mark.usefixtures("leftover_guard")

PIPELINE = """\
name: web
trigger:
  paths_ignore: ["docs/**"]
steps:
  - name: show
    image: shiplog/busybox:1
    commands:
      - cat version.txt
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitServer]:
    """A git server on loopback whose repositories need the credential `ci:s3cret-token`."""
    with git_server(tmp_path / "served") as running:
        yield running


@pytest.fixture
def repo(server: GitServer, tmp_path: Path) -> GitRepo:
    """acme/web on the server with a first commit on main."""
    made = server.repository(tmp_path, "acme", "web")
    made.commit({".shiplog.yml": PIPELINE, "version.txt": "one\n"}, "first")
    made.push()
    return made


def register(client: TestClient, repo: GitRepo, credential: str | None) -> str:
    """Register the repository for GitHub webhooks; the webhook secret."""
    body: dict[str, Any] = {"url": repo.url, "forge": "github"}
    if credential is not None:
        body["credential"] = credential
    answer = client.post("/api/repositories", json=body)
    assert answer.status_code == 201, answer.text
    secret: str = answer.json()["webhook_secret"]
    return secret


def deliver(client: TestClient, secret: str, event: str, payload: dict[str, Any]) -> None:
    """POST a signed delivery; it must be accepted."""
    body, headers = signed_github(secret, event, payload)
    answer = client.post("/hooks/github", content=body, headers=headers)
    assert answer.status_code == 202, answer.text


def push_payload(repo: GitRepo, ref: str, before: str, after: str) -> dict[str, Any]:
    """A GitHub push payload naming the served repository."""
    html = repo.url.removesuffix(".git")
    return github_push(html, "acme/web", ref, before, after, [commit(after)])


def settle(store: EventStore, database: Database, tmp_path: Path) -> str:
    """Settle the next delivery; its outcome."""
    keyring = fast_settings(tmp_path / "home", database).keyring_path  # the client's
    found = process_next_delivery(store, database.app_url, tmp_path / "mirrors", keyring)
    assert found is not None
    return found.outcome


def run_to_the_end(
    runners: Callable[[Settings, str], Runner], settings: Settings, store: EventStore, run_id: str
) -> None:
    """Let a runner execute the run until it has ended."""
    with working(runners(settings, "forge-runner")):
        wait_until(
            lambda: (
                run_events(store, run_id)[-1].type_name
                in ("RunSucceeded", "RunFailed", "RunCancelled")
            ),
            timeout=120,
            what=f"run {run_id} to end",
        )


def test_a_push_runs_exactly_the_pushed_commit_cloned_with_the_credential(
    client: TestClient,
    store: EventStore,
    database: Database,
    repo: GitRepo,
    server: GitServer,
    tmp_path: Path,
    runners: Callable[[Settings, str], Runner],
    busybox_image: str,
) -> None:
    first = repo.head()
    secret = register(client, repo, "ci:s3cret-token")
    second = repo.commit({"version.txt": "two\n"}, "second")
    repo.push()  # main has moved on; the delivery still names the first commit
    deliver(client, secret, "push", push_payload(repo, "refs/heads/main", "0" * 40, first))
    outcome = settle(store, database, tmp_path)
    assert outcome.startswith("queued run "), outcome
    run_id = outcome.removeprefix("queued run ")
    (queued,) = of_type(run_events(store, run_id), RunQueued)
    assert (queued.commit, queued.ref, queued.trigger, queued.repository) == (
        first, "refs/heads/main", "push", repo.url)  # fmt: skip
    assert queued.untrusted is False
    assert run_events(store, run_id)[0].metadata.actor == "github:127.0.0.1/acme/web"
    run_to_the_end(runners, fast_settings(tmp_path / "home", database), store, run_id)
    assert of_type(run_events(store, run_id), RunSucceeded)
    assert [line.text for line in read_log(database.app_url, run_id, "show")][-1] == "one"
    assert server.server.refused == 0 and server.server.served > 0
    assert second != first


def test_without_the_credential_the_fetch_is_refused_and_tried_again_later(
    client: TestClient, store: EventStore, database: Database, repo: GitRepo, tmp_path: Path
) -> None:
    secret = register(client, repo, None)
    deliver(client, secret, "push", push_payload(repo, "refs/heads/main", "0" * 40, repo.head()))
    outcome = settle(store, database, tmp_path)
    assert outcome.startswith("fetching the commit failed"), outcome
    assert "s3cret" not in outcome
    (delivery,) = recent_deliveries(database.app_url)
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert process_next_delivery(store, database.app_url, tmp_path / "mirrors", None) is None


def test_a_push_touching_only_ignored_paths_and_a_commit_without_a_pipeline_queue_nothing(
    client: TestClient, store: EventStore, database: Database, repo: GitRepo, tmp_path: Path
) -> None:
    secret = register(client, repo, "ci:s3cret-token")
    before = repo.head()
    docs = repo.commit({"docs/guide.md": "words\n"}, "docs only")
    repo.push()
    deliver(client, secret, "push", push_payload(repo, "refs/heads/main", before, docs))
    assert settle(store, database, tmp_path) == "pipeline 'web' is not triggered by this push"
    git("rm", "--quiet", ".shiplog.yml", cwd=repo.work)
    bare = repo.commit({"src/app.py": "print()\n"}, "no pipeline")
    repo.push()
    deliver(client, secret, "push", push_payload(repo, "refs/heads/main", docs, bare))
    assert settle(store, database, tmp_path) == f"no .shiplog.yml at {bare[:12]}: nothing to run"
    assert not [e for e in store.read_all() if e.type_name == "RunQueued"]


def test_a_pull_request_runs_its_head_from_the_pull_ref_and_a_fork_runs_untrusted(
    client: TestClient,
    store: EventStore,
    database: Database,
    repo: GitRepo,
    tmp_path: Path,
    runners: Callable[[Settings, str], Runner],
    busybox_image: str,
) -> None:
    secret = register(client, repo, "ci:s3cret-token")
    git("checkout", "--quiet", "-b", "feature", cwd=repo.work)
    head = repo.commit({"version.txt": "feature\n"}, "feature")
    repo.push("HEAD:refs/pull/7/head")  # where GitHub and Gitea keep a pull request's head
    html = repo.url.removesuffix(".git")
    deliver(
        client, secret, "pull_request", github_pull_request(html, "acme/web", 7, "opened", head)
    )
    fork = github_pull_request(html, "acme/web", 7, "synchronize", head, head_full_name="eve/web")
    deliver(client, secret, "pull_request", fork)
    own_run = settle(store, database, tmp_path).removeprefix("queued run ")
    fork_run = settle(store, database, tmp_path).removeprefix("queued run ")
    (own,) = of_type(run_events(store, own_run), RunQueued)
    (forked,) = of_type(run_events(store, fork_run), RunQueued)
    assert (own.ref, own.branch, own.trigger, own.untrusted) == (
        "refs/pull/7/head", "main", "pull_request", False)  # fmt: skip
    assert forked.untrusted is True
    run_to_the_end(runners, fast_settings(tmp_path / "home", database), store, own_run)
    assert of_type(run_events(store, own_run), RunSucceeded)
    assert [line.text for line in read_log(database.app_url, own_run, "show")][-1] == "feature"


def test_a_tag_push_queues_a_tag_run(
    client: TestClient, store: EventStore, database: Database, repo: GitRepo, tmp_path: Path
) -> None:
    secret = register(client, repo, "ci:s3cret-token")
    sha = repo.head()
    repo.push("HEAD:refs/tags/v1.0.0")
    deliver(client, secret, "push", push_payload(repo, "refs/tags/v1.0.0", "0" * 40, sha))
    run_id = settle(store, database, tmp_path).removeprefix("queued run ")
    (queued,) = of_type(run_events(store, run_id), RunQueued)
    assert (queued.ref, queued.trigger, queued.commit) == ("refs/tags/v1.0.0", "tag", sha)
    assert not [e for e in store.read_all() if e.type_name == "CommitsPushed"]  # tags bring none
