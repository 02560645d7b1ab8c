"""`shiplog token` and the first sign-in of `shiplog serve`, on a real database.

The CLI acts on the database directly, as the OS user: TokenCreated and
TokenRevoked record that user; the secret is printed once and stored nowhere.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.credentials import secret_digest
from app.database import Database
from app.queries.credentials import CredentialRefused, token_credential
from app.services.access import Role
from events.store import EventStore
from tests.support.access import token

LINK = re.compile(r"http://127\.0\.0\.1:8080/signin\?code=(\S+)")


def test_a_token_is_made_with_its_roles_and_its_secret_printed_once(
    cli: CliRunner, settings: Settings, store: EventStore, database: Database
) -> None:
    made = cli.invoke(app, ["token", "create", "ci", "--role", "deployer", "--role", "viewer",
                            "--expires", "90d"])  # fmt: skip
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("shiplog_") and len(secret) > 40
    credential = token_credential(store, secret)
    assert (credential.actor, sorted(credential.roles)) == ("ci", ["deployer", "viewer"])
    assert credential.expires_at is not None
    [created] = store.read_stream("token-ci")
    assert created.type_name == "TokenCreated"
    assert created.metadata.actor == settings.whoami()  # the OS user, as every CLI write
    recorded = created.data.model_dump_json() + created.metadata.model_dump_json()
    assert secret not in recorded and secret_digest(secret).hex() not in recorded
    with psycopg.connect(database.app_url) as conn:
        dumped = str(conn.execute("SELECT * FROM access_tokens").fetchall())
    assert secret not in dumped  # only its sha256 is kept


def test_the_list_shows_tokens_but_never_a_secret(cli: CliRunner, store: EventStore) -> None:
    secret = cli.invoke(app, ["token", "create", "ops", "--role", "operator"]).stdout.strip()
    listed = cli.invoke(app, ["token", "list"])
    assert listed.exit_code == 0, listed.output
    [line] = listed.stdout.splitlines()
    assert " ops  operator  live  expires never  made by " in line
    assert secret not in listed.output


def test_revoking_by_name_stops_the_token_and_is_recorded(
    cli: CliRunner, store: EventStore, settings: Settings
) -> None:
    secret = cli.invoke(app, ["token", "create", "ops", "--role", "operator"]).stdout.strip()
    revoked = cli.invoke(app, ["token", "revoke", "ops"])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked 1 token of ops" in revoked.stdout
    with pytest.raises(CredentialRefused, match="revoked"):
        token_credential(store, secret)
    assert [e.type_name for e in store.read_stream("token-ops")] == ["TokenCreated", "TokenRevoked"]
    assert "revoked" in cli.invoke(app, ["token", "list", "--all"]).stdout
    again = cli.invoke(app, ["token", "revoke", "ops"])
    assert again.exit_code == 1 and "no live token" in again.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["ci", "--role", "superuser"], "unknown role 'superuser'"),
        (["ci", "--role", "viewer", "--expires", "soon"], "neither an age"),
        (["ci", "--role", "viewer", "--expires", "2001-01-01"], "already past"),
        (["has space", "--role", "viewer"], "cannot name a token"),
    ],
)
def test_a_bad_token_request_says_what_is_wrong(
    cli: CliRunner, store: EventStore, args: list[str], words: str
) -> None:
    result = cli.invoke(app, ["token", "create", *args])
    assert result.exit_code == 2
    assert words in result.output
    assert store.read_all() == []


# --- shiplog serve: the first sign-in --------------------------------------------------------


def serve(cli: CliRunner, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Any, list[Any]]:
    """`shiplog serve ARGS` with uvicorn replaced by a recorder of what it was asked to run."""
    calls: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port: calls.append(app))
    return cli.invoke(app, ["serve", *args]), calls


def test_serve_without_a_token_prints_a_one_time_admin_link_on_loopback(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, store: EventStore, settings: Settings
) -> None:
    result, [served] = serve(cli, monkeypatch)
    assert result.exit_code == 0, result.output
    found = LINK.search(result.stdout)
    assert found is not None, result.stdout
    base = "http://127.0.0.1:8080"  # the server answers only to the names it serves on
    with TestClient(served, base_url=base, follow_redirects=False) as browser:
        first = browser.get("/signin", params={"code": found.group(1)})
        assert first.status_code == 303
        whoami = browser.get("/api/whoami").json()
        assert whoami["actor"] == settings.whoami() and "admin" in whoami["roles"]
        browser.cookies.clear()
        assert browser.get("/signin", params={"code": found.group(1)}).status_code == 401


def test_serve_refuses_a_public_address_while_no_token_exists(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, calls = serve(cli, monkeypatch, "--host", "0.0.0.0")
    assert result.exit_code == 2 and calls == []
    assert "refusing to serve on 0.0.0.0 while no API token exists" in result.output
    assert "shiplog token create NAME --role admin" in result.output


def test_serve_with_a_token_prints_no_link_and_answers_to_its_address(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, store: EventStore
) -> None:
    token(store, "ops", Role.ADMIN)
    result, [served] = serve(cli, monkeypatch, "--host", "0.0.0.0")
    assert result.exit_code == 0, result.output
    assert "signin?code=" not in result.output
    assert "sign in at http://0.0.0.0:8080/signin with an API token" in result.output
    assert served.state.settings.allowed_hosts[:3] == ("localhost", "127.0.0.1", "[::1]")
