"""The command line end to end: events tail, migrate, catalogue, and clear user errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from app.cli import app
from events.store import NO_STREAM, EventStore
from tests.support.factories import ALICE, queued, step_started


def test_tail_prints_the_latest_events_oldest_first(cli: CliRunner, store: EventStore) -> None:
    store.append("run-1", [queued(), step_started()], NO_STREAM, ALICE)
    store.append("run-2", [queued()], NO_STREAM, ALICE)
    result = cli.invoke(app, ["events", "tail", "-n", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert "run-1@1 StepStarted by alice" in lines[0]
    assert "run-2@0 RunQueued by alice" in lines[1]


def test_tail_filters_by_stream_and_type_and_speaks_json(cli: CliRunner, store: EventStore) -> None:
    store.append("run-1", [queued(), step_started()], NO_STREAM, ALICE)
    store.append("run-2", [queued()], NO_STREAM, ALICE)
    result = cli.invoke(app, ["events", "tail", "--stream", "run-1", "--type", "RunQueued",
                              "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.strip().splitlines()
    event = json.loads(line)
    assert (event["stream"], event["type"], event["version"]) == ("run-1", "RunQueued", 0)
    assert event["metadata"]["actor"] == "alice"
    assert len(bytes.fromhex(event["hash"])) == 32


def test_tail_with_an_unknown_type_says_so_instead_of_printing_nothing(cli: CliRunner) -> None:
    result = cli.invoke(app, ["events", "tail", "--type", "RunQueud"])
    assert result.exit_code != 0
    assert "unknown event type 'RunQueud'" in str(result.exception) + result.output


def test_tail_with_a_malformed_stream_name_says_what_is_wrong(cli: CliRunner) -> None:
    result = cli.invoke(app, ["events", "tail", "--stream", "nodash"])
    assert result.exit_code != 0
    assert "invalid stream name 'nodash'" in str(result.exception) + result.output


def test_migrate_reports_an_up_to_date_schema(cli: CliRunner) -> None:
    result = cli.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "schema up to date (0 applied now)" in result.output


def test_catalogue_lists_every_event_type(cli: CliRunner) -> None:
    result = cli.invoke(app, ["events", "catalogue"])
    assert result.exit_code == 0
    assert "RunQueued" in result.output and "IncidentResolved" in result.output


def test_the_installed_command_reports_a_user_mistake_in_one_line(cli: CliRunner) -> None:
    shiplog = Path(sys.executable).parent / "shiplog"
    done = subprocess.run(
        [str(shiplog), "events", "tail", "--type", "RunQueud"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": os.environ.get("PATH", "")},
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "shiplog: unknown event type 'RunQueud': it is not in the event catalogue"
    )


def test_projections_status_shows_lag_until_caught_up_and_rebuild_refolds(
    cli: CliRunner, store: EventStore
) -> None:
    store.append("run-7c0ffee0-0000-4000-8000-000000000001", [queued()], NO_STREAM, ALICE)
    before = cli.invoke(app, ["projections", "status"])
    assert before.exit_code == 0, before.output
    assert "runs" in before.output

    caught_up = cli.invoke(app, ["projections", "catch-up"])
    assert caught_up.exit_code == 0, caught_up.output
    assert "folded 1 events" in caught_up.output
    after = cli.invoke(app, ["projections", "status"])
    assert after.output.strip().splitlines()[-1].split()[-1] == "0"

    rebuilt = cli.invoke(app, ["projections", "rebuild", "runs"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt from 1 events" in rebuilt.output


def test_rebuilding_an_unknown_projection_names_the_known_ones(cli: CliRunner) -> None:
    result = cli.invoke(app, ["projections", "rebuild", "nope"])
    assert result.exit_code != 0
    assert "no projection named 'nope'" in str(result.exception)
