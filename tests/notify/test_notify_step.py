"""`notify` steps queue a message for a registered target; the worker delivers it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app
from app.database import Database
from app.notify.backoff import Backoff
from app.services.notifications import deliver_next
from events.store import EventStore
from tests.support.receiver import receiver
from tests.support.runs import make_repo, run_events, run_id_in

pytestmark = pytest.mark.usefixtures("leftover_guard")

PIPELINE = """\
name: web
steps:
  - name: test
    image: shiplog/busybox:1
    commands: [echo testing]
  - name: tell
    notify:
      target: team
      message: "web is green & <ready>"
  - name: tell-nobody
    notify:
      target: nobody
"""


def test_a_notify_step_queues_its_message_and_an_unknown_target_fails_its_step(
    cli: CliRunner,
    client: TestClient,
    store: EventStore,
    database: Database,
    tmp_path: Path,
    busybox_image: str,
) -> None:
    with receiver() as team:
        body = {"name": "team", "kind": "slack", "url": team.url, "allow_private": True}
        assert client.post("/api/notifications/targets", json=body).status_code == 201
        repo = make_repo(tmp_path / "web", {".shiplog.yml": PIPELINE})
        result = cli.invoke(app, ["run", str(repo)])
        assert result.exit_code == 1, result.output  # tell-nobody failed
        run_id = run_id_in(result.output)
        finished = {
            e.data.model_dump()["step"]: e.data.model_dump()["exit_code"]
            for e in run_events(store, run_id)
            if e.type_name == "StepFinished"
        }
        assert finished == {"test": 0, "tell": 0, "tell-nobody": 1}
        assert deliver_next(store, database.app_url, Backoff(), timeout=5, keyring=None)
        (got,) = team.received
        assert json.loads(got.body)["text"] == "web is green &amp; &lt;ready&gt;"
