"""Registering repositories: an admin action, the webhook secret shown once, no secret leaks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.database import Database
from app.executor.secrets import SecretStore
from app.repo_identity import clone_secret_name
from app.services.errors import NotRegistered
from events.store import EventStore

URL = "https://github.com/Acme/Web.git"
IDENTITY = "github.com/acme/web"


def register(client: TestClient, **extra: object) -> dict[str, object]:
    """POST /api/repositories for acme/web; the answer's JSON."""
    answer = client.post("/api/repositories", json={"url": URL, "forge": "github", **extra})
    assert answer.status_code == 201, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_registering_answers_the_identity_and_the_webhook_secret_once(
    client: TestClient, store: EventStore, database: Database, settings: Settings
) -> None:
    first = register(client, credential="x-access-token:ghs_clone")
    assert first["identity"] == IDENTITY
    assert first["webhook_path"] == "/hooks/github"
    secret = first["webhook_secret"]
    assert isinstance(secret, str) and secret.startswith("whsec_")
    again = register(client)
    assert again["webhook_secret"] is None  # kept, and not shown again
    rotated = register(client, rotate_secret=True)
    assert rotated["webhook_secret"] not in (None, secret)

    actor = client.get("/api/whoami").json()["actor"]
    events = store.read_stream(f"repo-{IDENTITY}")
    assert [e.type_name for e in events] == ["RepositoryRegistered"] * 3
    assert all(e.metadata.actor == actor for e in events)
    assert events[0].data.credential is True and events[0].data.secret_rotated is True
    assert events[1].data.secret_rotated is False
    ledger = json.dumps([e.data.model_dump(mode="json") for e in events])
    assert "ghs_clone" not in ledger and "whsec_" not in ledger
    secrets = SecretStore(database.app_url, settings.keyring_path)
    stored = secrets.values([clone_secret_name(IDENTITY)], IDENTITY, None)
    assert stored[clone_secret_name(IDENTITY)] == "x-access-token:ghs_clone"


def test_the_list_shows_repositories_without_their_secrets(client: TestClient) -> None:
    register(client, credential="ghs_clone", commit_status=True)
    listed = client.get("/api/repositories")
    assert listed.status_code == 200
    (repo,) = listed.json()
    assert repo["identity"] == IDENTITY and repo["credential"] is True
    assert repo["commit_status"] is True
    assert "whsec_" not in listed.text and "ghs_clone" not in listed.text
    page = client.get("/repositories")
    assert page.status_code == 200 and IDENTITY in page.text and "whsec_" not in page.text


def test_a_url_with_a_credential_or_an_unknown_forge_is_refused_naming_the_field(
    client: TestClient,
) -> None:
    leaky = client.post(
        "/api/repositories", json={"url": "https://me:tok@github.com/a/b", "forge": "github"}
    )
    assert leaky.status_code == 422 and leaky.json()["detail"][0]["loc"] == ["body", "url"]
    assert "tok" not in leaky.json()["detail"][0]["msg"]
    nowhere = client.post("/api/repositories", json={"url": "acme/web", "forge": "github"})
    assert nowhere.status_code == 422 and "names no host" in nowhere.text
    forge = client.post("/api/repositories", json={"url": URL, "forge": "bitbucket"})
    assert forge.status_code == 422 and forge.json()["detail"][0]["loc"] == ["body", "forge"]


def test_removing_forgets_the_repository_and_its_credential(
    client: TestClient, store: EventStore, database: Database
) -> None:
    register(client, credential="ghs_clone")
    assert client.delete("/api/repositories/git@github.com:acme/web.git").status_code == 200
    assert client.get("/api/repositories").json() == []
    assert clone_secret_name(IDENTITY) not in SecretStore(database.app_url).names_for(
        IDENTITY, None
    )
    assert store.read_stream(f"repo-{IDENTITY}")[-1].type_name == "RepositoryRemoved"
    missing = client.delete("/api/repositories/github.com/acme/web")
    assert missing.status_code == 404 and "no repository github.com/acme/web" in missing.text


def test_the_cli_registers_lists_and_removes(cli: CliRunner) -> None:
    added = cli.invoke(
        app, ["repo", "add", URL, "--forge", "github", "--credential-stdin"], input="ghs_x\n"
    )
    assert added.exit_code == 0, added.output
    assert "repository github.com/acme/web registered (github)" in added.output
    assert "webhook secret (shown once): whsec_" in added.output
    assert "/hooks/github" in added.output
    listed = cli.invoke(app, ["repo", "ls"])
    assert listed.output.startswith("github.com/acme/web\tgithub\t")
    assert "\tcredential" in listed.output
    assert "ghs_x" not in listed.output
    removed = cli.invoke(app, ["repo", "rm", "github.com/acme/web"])
    assert removed.exit_code == 0 and "removed" in removed.output
    gone = cli.invoke(app, ["repo", "rm", "github.com/acme/web"])
    assert isinstance(gone.exception, NotRegistered)
    assert str(gone.exception) == "no repository github.com/acme/web is registered"


def test_the_installed_command_names_the_bad_field_in_one_line(cli: CliRunner) -> None:
    shiplog = Path(sys.executable).parent / "shiplog"
    done = subprocess.run(
        [str(shiplog), "repo", "add", "acme/web", "--forge", "github"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("shiplog: url: 'acme/web' names no host")
