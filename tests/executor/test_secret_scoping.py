"""Which run gets which secret: its repository's, for its branch, where named; untrusted: none."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.database import Database
from app.executor.execution import Observers
from app.executor.local import run_here
from app.executor.source import inspect_checkout
from app.pipeline import PipelineError, pipeline_digest
from app.queries.logs import read_log
from app.services.runs import queue_run
from events.catalogue import Metadata
from events.store import EventStore
from events.vocabulary import RunFailed, RunQueued, RunSucceeded, StepFinished
from tests.support.runs import (
    BUSYBOX,
    commands_pipeline,
    git,
    make_repo,
    one,
    run_events,
    shiplog_run,
)

pytestmark = pytest.mark.usefixtures("leftover_guard")

TOKEN = "tok-Zq81-scoped-secret-value"
ACTOR = Metadata(actor="webhook-test", source="test")


def set_secret(cli: CliRunner, name: str, value: str, *scope: str) -> None:
    done = cli.invoke(app, ["secret", "set", name, *scope], input=value)
    assert done.exit_code == 0, done.output


def log_of(database: Database, run_id: str, step: str) -> list[str]:
    return [line.text for line in read_log(database.app_url, run_id, step)]


def queue_as_a_webhook_would(store: EventStore, repo: Path, *, untrusted: bool) -> str:
    """Queue the checkout's HEAD without the checks `shiplog run` makes first."""
    facts = inspect_checkout(repo)
    queued = RunQueued(
        repository=facts.repository,
        commit=facts.commit,
        ref=facts.ref,
        commit_time=facts.commit_time,
        trigger="pull_request" if untrusted else "push",
        pipeline_path=".shiplog.yml",
        pipeline_digest=pipeline_digest((repo / ".shiplog.yml").read_bytes()),
        checkout=str(facts.root),
        untrusted=untrusted,
    )
    return queue_run(store, queued, ACTOR)


def execute(settings: Settings, store: EventStore, database: Database, run_id: str) -> None:
    queued = run_events(store, run_id)[0].data
    assert isinstance(queued, RunQueued)
    run_here(settings, store, database.app_url, run_id, queued, Observers())


def assert_token_used(cli: CliRunner, database: Database, repo: Path) -> None:
    """`shiplog run` of `repo` succeeds, its step `use` having had the token."""
    run_id, output, exit_code = shiplog_run(cli, repo)
    assert exit_code == 0, output
    assert log_of(database, run_id, "use")[-1] == f"length {len(TOKEN)}"


def uses_token(name: str = "use") -> str:
    return f"""\
  - name: {name}
    image: {BUSYBOX}
    secrets: [TOKEN]
    commands:
      - echo "length ${{#TOKEN}}"
"""


def test_a_pipeline_of_another_repository_cannot_get_a_secret(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    settings: Settings,
    busybox_image: str,
    tmp_path: Path,
) -> None:
    owner = make_repo(tmp_path / "owner", {".shiplog.yml": commands_pipeline(uses_token())})
    thief = make_repo(tmp_path / "thief", {".shiplog.yml": commands_pipeline(uses_token())})
    set_secret(cli, "TOKEN", TOKEN, "--repo", str(owner))

    with pytest.raises(PipelineError, match=r"unknown secret 'TOKEN'.*no secrets are defined"):
        shiplog_run(cli, thief)

    run_id = queue_as_a_webhook_would(store, thief, untrusted=False)
    execute(settings, store, database, run_id)
    failed = run_events(store, run_id)[-1].data
    assert isinstance(failed, RunFailed) and "unknown secret 'TOKEN'" in failed.reason

    assert_token_used(cli, database, owner)


def test_a_branch_scoped_secret_goes_only_to_runs_of_that_branch(
    cli: CliRunner, store: EventStore, database: Database, busybox_image: str, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": commands_pipeline(uses_token())})
    set_secret(cli, "TOKEN", TOKEN, "--repo", str(repo), "--branch", "release")

    with pytest.raises(PipelineError, match="unknown secret 'TOKEN'"):
        shiplog_run(cli, repo)
    git(repo, "checkout", "--quiet", "-b", "release")
    assert_token_used(cli, database, repo)


def test_a_step_gets_only_the_secrets_it_names(
    cli: CliRunner, store: EventStore, database: Database, busybox_image: str, tmp_path: Path
) -> None:
    pipeline = commands_pipeline(
        uses_token(),
        f"""\
  - name: other
    image: {BUSYBOX}
    commands:
      - echo "token ${{TOKEN:-unset}}, env $(env | grep -c TOKEN)"
""",
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})
    set_secret(cli, "TOKEN", TOKEN, "--repo", str(repo))

    run_id, output, exit_code = shiplog_run(cli, repo)

    assert exit_code == 0, output
    assert log_of(database, run_id, "other")[-1] == "token unset, env 0"


def test_an_untrusted_run_gets_no_secret_and_no_privilege_even_where_the_repository_has_them(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    settings: Settings,
    busybox_image: str,
    tmp_path: Path,
) -> None:
    pipeline = commands_pipeline(
        uses_token("needs-token"),
        f"""\
  - name: on-the-host
    image: {BUSYBOX}
    host_network: true
    commands: [hostname]
    when:
      status: [success, failure]
  - name: plain
    image: {BUSYBOX}
    commands:
      - echo "token ${{TOKEN:-unset}}"
    when:
      status: [success, failure]
""",
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})
    set_secret(cli, "TOKEN", TOKEN, "--repo", str(repo))
    assert cli.invoke(app, ["sandbox", "allow", "host-network", "--repo", str(repo)]).exit_code == 0

    run_id = queue_as_a_webhook_would(store, repo, untrusted=True)
    execute(settings, store, database, run_id)

    events = run_events(store, run_id)
    needs = one(events, StepFinished, step="needs-token")
    assert needs.exit_code == 1 and needs.reason is not None
    assert needs.reason.startswith("step needs-token needs secret(s) TOKEN, and an untrusted run")
    host = one(events, StepFinished, step="on-the-host")
    assert host.reason is not None and "untrusted runs never get it" in host.reason
    assert one(events, StepFinished, step="plain").exit_code == 0
    assert log_of(database, run_id, "plain")[-1] == "token unset"
    assert log_of(database, run_id, "needs-token") == [f"shiplog: {needs.reason}"]

    trusted = queue_as_a_webhook_would(store, repo, untrusted=False)
    execute(settings, store, database, trusted)
    assert isinstance(run_events(store, trusted)[-1].data, RunSucceeded)
