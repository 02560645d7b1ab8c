"""The executor end to end: `shiplog run` on real git repositories, real Docker, a real registry.

Each test makes its sample repository in tmp_path, runs its pipeline through the CLI and
then reads what the ledger, the step logs, the Docker engine and the registry say.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.database import Database
from app.executor.actions import MASK, build_script, commands_digest
from app.executor.logs import expire_logs
from app.executor.runner import runner_version
from app.pipeline import parse_pipeline
from app.queries.logs import read_log
from events.store import EventStore
from events.vocabulary import (
    BaseImage,
    ImageBuilt,
    ImagePushed,
    RunClaimed,
    RunFailed,
    RunQueued,
    RunSucceeded,
    StepFinished,
    StepSkipped,
    StepStarted,
    TestsReported,
)
from tests.support.runs import (
    BUSYBOX,
    SHA256,
    SHIPLOG,
    commands_pipeline,
    count_events,
    git,
    hello_app,
    hello_pipeline,
    index_of,
    leases,
    ledger_text,
    leftovers,
    make_repo,
    of_type,
    one,
    run_events,
    shiplog_run,
    type_names,
    unique_name,
    verify_logs,
)

pytestmark = pytest.mark.usefixtures("leftover_guard")  # nothing left on the engine

OCI = "org.opencontainers.image."


# --- build, test in the built image, push ------------------------------------------------------


def test_sample_app_is_built_tested_in_its_image_and_pushed_with_every_fact_in_the_ledger(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    settings: Settings,
    docker_client: Any,
    busybox_image: str,
    registry: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHIPLOG_ACTOR", "alice")
    name = unique_name("shiplog-test/hello")
    tag = f"{name}:1.0.0"
    pushed_name = unique_name("shiplog-test/hello-pushed")
    push_repository = f"{registry.address}/{pushed_name}"
    pipeline = hello_pipeline(tag, push_repository, ("1.0.0", "latest"))
    repo = hello_app(tmp_path / "hello", pipeline)
    commit = git(repo, "rev-parse", "HEAD")
    committed_at = datetime.fromtimestamp(int(git(repo, "show", "-s", "--format=%ct")), UTC)

    run_id, output, exit_code = shiplog_run(cli, repo)

    assert exit_code == 0, output
    assert f"run {run_id} succeeded" in output
    events = run_events(store, run_id)
    assert type_names(events) == [
        "RunQueued",
        "RunClaimed",
        "StepStarted",
        "ImageBuilt",
        "StepFinished",
        "StepStarted",
        "TestsReported",
        "StepFinished",
        "StepStarted",
        "ImagePushed",
        "ImagePushed",
        "StepFinished",
        "ProvenanceSigned",  # tests/provenance/test_provenance_build.py checks what it signed
        "RunSucceeded",
    ]
    assert [e.version for e in events] == list(range(len(events)))
    assert all(e.metadata.correlation_id == run_id for e in events)
    assert (events[0].metadata.actor, events[0].metadata.source) == ("alice", "cli")
    runner_name = one(events, RunClaimed).runner
    assert {(e.metadata.actor, e.metadata.source) for e in events[1:]} == {
        (f"runner:{runner_name}", "runner")
    }

    # RunQueued: the exact commit, ref and pipeline bytes of the checkout
    queued = one(events, RunQueued)
    root = Path(git(repo, "rev-parse", "--show-toplevel"))
    assert queued == RunQueued(
        repository=root.as_uri(),
        commit=commit,
        ref="refs/heads/main",
        commit_time=committed_at,
        trigger="manual",
        pipeline_path=".shiplog.yml",
        pipeline_digest="sha256:" + hashlib.sha256(pipeline.encode()).hexdigest(),
        dirty=False,
        checkout=str(root),
    )

    # RunClaimed: who ran it, with which shiplog and which engine
    claimed = one(events, RunClaimed)
    assert claimed.runner.endswith(":cli")
    assert claimed.runner_version == runner_version() != "unknown"
    assert claimed.docker_version == docker_client.version()["Version"]

    # ImageBuilt: the image on the engine is the one recorded, labels and all
    built = one(events, ImageBuilt)
    image = docker_client.images.get(tag)
    assert built.image_id == image.id
    assert built.step == "build"
    assert built.tags == (tag,)
    assert built.build_args == {"VERSION": "1.0.0"}
    assert built.secret_args == ()
    assert built.target is None
    busybox = docker_client.images.get(BUSYBOX)
    base_digest = next(
        (d.split("@")[1] for d in busybox.attrs.get("RepoDigests") or [] if d.startswith(BUSYBOX)),
        busybox_image,
    )
    assert built.base_images == (BaseImage(name=BUSYBOX, digest=base_digest),)
    dockerfile = (repo / "Dockerfile").read_bytes()
    assert built.dockerfile_sha256 == hashlib.sha256(dockerfile).hexdigest()
    assert SHA256.fullmatch(built.context_digest)
    assert built.labels.items() <= image.labels.items()  # the recorded labels are on the image
    assert built.labels == {
        OCI + "created": committed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        OCI + "source": root.as_uri(),
        OCI + "revision": commit,
        OCI + "version": "1.0.0",
        OCI + "title": "hello",
        OCI + "base.name": BUSYBOX,
        OCI + "base.digest": base_digest,
        OCI + "description": "A greeting, delivered",
        "dev.shiplog.run": run_id,
    }

    # StepStarted: build and push record their canonical spec, the test its image and script
    spec = parse_pipeline(pipeline, ".shiplog.yml").step("build").build  # type: ignore[union-attr]
    spec_bytes = json.dumps(
        spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":")
    ).encode()
    assert one(events, StepStarted, step="build") == StepStarted(
        step="build",
        image="docker build",
        image_digest=None,
        commands_digest="sha256:" + hashlib.sha256(spec_bytes).hexdigest(),
    )
    assert one(events, StepStarted, step="test") == StepStarted(
        step="test",
        image=tag,
        image_digest=image.id,  # the image just built: no registry digest yet
        commands_digest=commands_digest(build_script(["hello-test /workspace/reports/junit.xml"])),
    )
    pushed_start = one(events, StepStarted, step="push")
    assert pushed_start.image == "docker push"
    assert SHA256.fullmatch(pushed_start.commands_digest)

    # TestsReported: the JUnit report test.sh wrote, counted and digested
    report = (
        '<testsuite name="hello" tests="2" failures="0">'
        '<testcase classname="hello" name="greets_the_world"/>'
        '<testcase classname="hello" name="greets_by_name"/></testsuite>\n'
    )
    assert one(events, TestsReported) == TestsReported(
        step="test",
        passed=2,
        failed=0,
        skipped=0,
        failing=(),
        report_sha256=hashlib.sha256(report.encode()).hexdigest(),
    )

    # ImagePushed: the digests are those the registry serves, and the engine knows them
    pushed = of_type(events, ImagePushed)
    assert [(p.step, p.repository, p.tag) for p in pushed] == [
        ("push", push_repository, "1.0.0"),
        ("push", push_repository, "latest"),
    ]
    image.reload()
    for event in pushed:
        assert event.image_id == image.id
        assert event.digest == registry.manifest_digest(pushed_name, event.tag)
        assert f"{push_repository}@{event.digest}" in image.attrs["RepoDigests"]
    assert docker_client.images.get(f"{push_repository}:1.0.0").id == image.id

    # StepFinished: every step succeeded, and its stored log is the one recorded
    finished = of_type(events, StepFinished)
    assert [(f.step, f.exit_code, f.timed_out) for f in finished] == [
        ("build", 0, False),
        ("test", 0, False),
        ("push", 0, False),
    ]
    assert all(f.log_lines > 0 and f.duration_ms >= 0 for f in finished)
    verify_logs(database, run_id, finished)
    test_log = [line.text for line in read_log(database.app_url, run_id, "test")]
    assert test_log == ["+ hello-test /workspace/reports/junit.xml", "2 passed, 0 failed"]
    assert one(events, RunSucceeded).duration_ms > 0

    # and nothing is left behind: containers, network, workspace, heartbeat row
    assert leftovers(docker_client, run_id) == []
    assert not (settings.work_dir / run_id).exists()
    assert leases(database) == []


def test_step_logs_can_be_verified_by_anyone_against_step_finished(
    cli: CliRunner, store: EventStore, database: Database, busybox_image: str, tmp_path: Path
) -> None:
    step = f"""\
  - name: talk
    image: {BUSYBOX}
    commands:
      - echo first line
      - printf 'café ✓\\r\\nno newline at the end'
"""
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": commands_pipeline(step)})
    run_id, output, exit_code = shiplog_run(cli, repo)
    assert exit_code == 0, output
    finished = one(run_events(store, run_id), StepFinished, step="talk")

    # the log as `shiplog logs` prints it hashes to what the ledger recorded
    printed = cli.invoke(app, ["logs", run_id, "talk"])
    assert printed.exit_code == 0, printed.output
    assert printed.output.splitlines() == [
        "+ echo first line",
        "first line",
        "+ printf 'café ✓\\r\\nno newline at the end'",
        "café ✓",
        "no newline at the end",
    ]
    assert hashlib.sha256(printed.output.encode()).hexdigest() == finished.log_sha256
    assert finished.log_lines == 5
    verified = cli.invoke(app, ["logs", "--verify", run_id, "talk"])
    assert verified.exit_code == 0, verified.output
    assert f"matches the ledger: sha256 {finished.log_sha256}, 5 lines" in verified.output

    # a log that no longer matches (here: expired by the owner) fails verification
    expire_logs(database.owner_url, older_than=datetime.now(UTC).replace(year=2999), actor="ops")
    gone = cli.invoke(app, ["logs", "--verify", run_id, "talk"])
    assert gone.exit_code == 1
    assert "FAILED log of talk" in gone.output


# --- failures, skips, timeouts ---------------------------------------------------------------


def test_a_failing_step_fails_the_run_and_later_steps_are_skipped_unless_their_when_wants_failure(
    cli: CliRunner, store: EventStore, database: Database, busybox_image: str, tmp_path: Path
) -> None:
    def step(name: str, *commands: str, when: str = "") -> str:
        lines = "".join(f"      - {command}\n" for command in commands)
        return f"  - name: {name}\n    image: {BUSYBOX}\n{when}    commands:\n{lines}"

    report = (
        '<testsuite><testcase classname="unit" name="adds"/>'
        '<testcase classname="unit" name="divides"><failure/></testcase></testsuite>'
    )
    broken = step(
        "broken", "echo about to fail", f"printf '{report}' > report.xml", "exit 3", "echo never"
    )
    pipeline = commands_pipeline(
        step("first", "echo fine"),
        broken + "    reports: [report.xml]\n",
        step("after", "echo must not run"),
        step("cleanup", "echo cleaning up", when="    when: {status: failure}\n"),
        step("always", "echo either way", when="    when: {status: [success, failure]}\n"),
        step(
            "release-only",
            "echo wrong branch",
            when="    when: {branch: release/*, status: [success, failure]}\n",
        ),
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})

    run_id, output, exit_code = shiplog_run(cli, repo)

    assert exit_code == 1
    assert f"run {run_id} failed: step 'broken' failed" in output
    events = run_events(store, run_id)
    finished = {f.step: f for f in of_type(events, StepFinished)}
    assert {name: f.exit_code for name, f in finished.items()} == {
        "first": 0,
        "broken": 3,
        "cleanup": 0,
        "always": 0,
    }
    assert [(s.step, s.reason) for s in of_type(events, StepSkipped)] == [
        ("after", "an earlier step failed"),
        ("release-only", "its `when` does not match"),
    ]
    started = [s.step for s in of_type(events, StepStarted)]
    assert started == ["first", "broken", "cleanup", "always"]
    assert events[-1].data == RunFailed(reason="step 'broken' failed", step="broken")
    assert type_names(events).count("RunFailed") == 1
    broken_log = [line.text for line in read_log(database.app_url, run_id, "broken")]
    assert broken_log == [
        "+ echo about to fail",
        "about to fail",
        f"+ printf '{report}' > report.xml",
        "+ exit 3",
    ]
    # the failing step's test report is read all the same: failing tests are the news
    assert one(events, TestsReported) == TestsReported(
        step="broken",
        passed=1,
        failed=1,
        skipped=0,
        failing=("unit.divides",),
        report_sha256=hashlib.sha256(report.encode()).hexdigest(),
    )
    verify_logs(database, run_id, list(finished.values()))


def test_a_step_running_past_its_timeout_is_killed_and_recorded_as_timed_out(
    cli: CliRunner, store: EventStore, busybox_image: str, docker_client: Any, tmp_path: Path
) -> None:
    step = f"""\
  - name: slow
    image: {BUSYBOX}
    timeout: 1s
    commands: [sleep 120]
"""
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": commands_pipeline(step)})
    run_id, output, exit_code = shiplog_run(cli, repo)
    assert exit_code == 1, output
    events = run_events(store, run_id)
    slow = one(events, StepFinished, step="slow")
    assert slow.timed_out
    assert slow.exit_code != 0
    assert events[-1].data == RunFailed(reason="step 'slow' failed", step="slow")
    assert leftovers(docker_client, run_id) == []


def test_a_step_whose_container_cannot_start_fails_that_step_and_the_run_names_it(
    cli: CliRunner, store: EventStore, database: Database, busybox_image: str, tmp_path: Path
) -> None:
    tag = f"{unique_name()}:no-shell"
    pipeline = commands_pipeline(
        f"""\
  - name: build
    build:
      tags: ["{tag}"]
  - name: shell-less
    image: {tag}
    commands: [echo there is no shell to run this]
"""
    )
    dockerfile = "FROM scratch\nCOPY notes.txt /notes.txt\n"  # no /bin/sh in the image
    files = {".shiplog.yml": pipeline, "Dockerfile": dockerfile, "notes.txt": "hello\n"}
    repo = make_repo(tmp_path / "repo", files)

    run_id, output, exit_code = shiplog_run(cli, repo)

    assert exit_code == 1, output
    events = run_events(store, run_id)
    assert events[-1].data == RunFailed(reason="step 'shell-less' failed", step="shell-less")
    failed = one(events, StepFinished, step="shell-less")
    assert failed.exit_code != 0
    (line,) = [line.text for line in read_log(database.app_url, run_id, "shell-less")]
    assert line.startswith("shiplog: the Docker engine refused:")
    assert "/bin/sh" in line
    verify_logs(database, run_id, of_type(events, StepFinished))


# --- secrets -------------------------------------------------------------------------------


def test_secret_values_are_masked_in_logs_and_never_appear_in_events(
    cli: CliRunner, store: EventStore, database: Database, busybox_image: str, tmp_path: Path
) -> None:
    api_token = "tok-7Qx2-very-secret-api-value"
    build_token = "bld-9Zr4-very-secret-build-value"
    tag = f"{unique_name()}:ci"
    pipeline = commands_pipeline(
        f"""\
  - name: build
    build:
      secrets: [BUILD_TOKEN]
      tags: ["{tag}"]
  - name: use
    image: {tag}
    secrets: [API_TOKEN]
    environment:
      GREETING: hello
    commands:
      - echo "$GREETING, the token is $API_TOKEN"
      - printf '%s\\n' "$API_TOKEN" > /workspace/copy.txt
      - cat /workspace/copy.txt
      - echo "twice:$API_TOKEN$API_TOKEN"
"""
    )
    dockerfile = (
        f"FROM {BUSYBOX}\n"
        "RUN --mount=type=secret,id=BUILD_TOKEN \\\n"
        '  echo "the build sees $(cat /run/secrets/BUILD_TOKEN)" \\\n'
        f"  && echo {uuid.uuid4()} > /unique-so-never-cached\n"
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline, "Dockerfile": dockerfile})
    for name, value in (("API_TOKEN", api_token), ("BUILD_TOKEN", build_token)):
        stored = cli.invoke(app, ["secret", "set", name, "--repo", str(repo)], input=value)
        assert stored.exit_code == 0, stored.output

    run_id, output, exit_code = shiplog_run(cli, repo)

    assert exit_code == 0, output
    use_log = [line.text for line in read_log(database.app_url, run_id, "use")]
    assert f"hello, the token is {MASK}" in use_log
    assert use_log.count(MASK) == 1  # the `cat`
    assert f"twice:{MASK}" in use_log
    build_log = [line.text for line in read_log(database.app_url, run_id, "build")]
    assert any(f"the build sees {MASK}" in line for line in build_log), build_log
    for secret in (api_token, build_token):
        assert secret not in output  # the live output of `shiplog run`
        assert secret not in ledger_text(database)  # every event and every stored log line
        assert secret not in cli.invoke(app, ["logs", run_id, "use"]).output
        assert secret not in cli.invoke(app, ["logs", run_id, "build"]).output
    built = one(run_events(store, run_id), ImageBuilt)
    assert built.secret_mounts == ("BUILD_TOKEN",) and built.secret_args == ()
    assert built.build_args == {}
    verify_logs(database, run_id, of_type(run_events(store, run_id), StepFinished))


# --- the step graph and services ----------------------------------------------------------------


def test_steps_depending_on_the_same_step_run_in_parallel_and_their_dependent_waits_for_both(
    cli: CliRunner, store: EventStore, busybox_image: str, tmp_path: Path
) -> None:
    # `left` and `right` each wait (up to 15 s) for a file the other writes: run one after
    # the other, the first would time out and fail the run.
    def meet(me: str, other: str) -> str:
        wait = (
            f"for i in $(seq 1 150); do [ -e /workspace/{other} ] && exit 0; sleep 0.1; done; "
            "exit 1"
        )
        return f"""\
  - name: {me}
    image: {BUSYBOX}
    depends_on: [prepare]
    commands:
      - test -e /workspace/prepared
      - touch /workspace/{me}
      - '{wait}'
"""

    pipeline = commands_pipeline(
        f"""\
  - name: prepare
    image: {BUSYBOX}
    depends_on: []
    commands: [touch /workspace/prepared]
""",
        meet("left", "right"),
        meet("right", "left"),
        f"""\
  - name: join
    image: {BUSYBOX}
    depends_on: [left, right]
    commands: [ls /workspace]
""",
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})

    run_id, output, exit_code = shiplog_run(cli, repo)

    assert exit_code == 0, output
    events = run_events(store, run_id)
    started = {name: index_of(events, StepStarted, step=name) for name in ("left", "right")}
    ended = {name: index_of(events, StepFinished, step=name) for name in ("left", "right")}
    assert max(started.values()) < min(ended.values())  # both were running at once
    assert index_of(events, StepFinished, step="prepare") < min(started.values())
    assert max(ended.values()) < index_of(events, StepStarted, step="join")
    assert all(f.exit_code == 0 for f in of_type(events, StepFinished))


def test_a_service_is_reachable_by_its_name_from_a_step_and_goes_away_with_the_run(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    docker_client: Any,
    tmp_path: Path,
) -> None:
    fetch = (
        "for i in $(seq 1 100); do wget -q -O - http://web:8080/ && exit 0; sleep 0.1; done; exit 1"
    )
    pipeline = commands_pipeline(
        f"""\
  - name: fetch
    image: {BUSYBOX}
    commands:
      - '{fetch}'
""",
        header=f"""\
services:
  - name: web
    image: {BUSYBOX}
    commands:
      - mkdir -p /www
      - echo served-by-the-web-service > /www/index.html
      - httpd -f -p 8080 -h /www
""",
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})

    run_id, output, exit_code = shiplog_run(cli, repo)

    assert exit_code == 0, output
    assert "served-by-the-web-service" in [
        line.text for line in read_log(database.app_url, run_id, "fetch")
    ]
    assert "web │ + httpd -f -p 8080 -h /www" in output  # the service's output, shown live
    assert one(run_events(store, run_id), StepFinished, step="fetch").exit_code == 0
    assert leftovers(docker_client, run_id) == []


# --- what is refused before a run is queued ------------------------------------------------------


def test_a_dirty_checkout_is_refused_without_allow_dirty_and_recorded_dirty_with_it(
    cli: CliRunner, store: EventStore, database: Database, busybox_image: str, tmp_path: Path
) -> None:
    step = f"""\
  - name: read
    image: {BUSYBOX}
    commands: [cat notes.txt]
"""
    repo = make_repo(
        tmp_path / "repo", {".shiplog.yml": commands_pipeline(step), "notes.txt": "committed\n"}
    )
    (repo / "notes.txt").write_text("not committed yet\n")

    refused = cli.invoke(app, ["run", str(repo)])
    assert refused.exit_code != 0
    assert "uncommitted changes" in str(refused.exception)
    assert "--allow-dirty" in str(refused.exception)
    assert count_events(database) == 0

    run_id, output, exit_code = shiplog_run(cli, repo, "--allow-dirty")
    assert exit_code == 0, output
    events = run_events(store, run_id)
    queued = one(events, RunQueued)
    assert queued.dirty
    assert queued.commit == git(repo, "rev-parse", "HEAD")
    log = [line.text for line in read_log(database.app_url, run_id, "read")]
    assert log == ["+ cat notes.txt", "not committed yet"]


def test_an_invalid_pipeline_is_refused_before_anything_is_queued_naming_file_line_and_column(
    database: Database, tmp_path: Path
) -> None:
    pipeline = f"""\
name: broken
steps:
  - name: greet
    image: {BUSYBOX}
    comands: [echo hi]
  - name: later
    image: {BUSYBOX}
    secrets: [API_TOKEN]
    depends_on: [gret]
"""
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})
    env = {
        "PATH": "/usr/bin:/bin",
        "SHIPLOG_DATABASE_URL": database.app_url,
        "SHIPLOG_HOME": str(tmp_path / "home"),
    }
    done = subprocess.run(
        [str(SHIPLOG), "run", str(repo)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    problems = done.stderr.strip().splitlines()
    assert problems[0].startswith("shiplog: .shiplog.yml:5:5: steps[0].comands: unknown key")
    assert "did you mean 'commands'?" in problems[0]
    assert problems[1].startswith(".shiplog.yml:8:15: steps[1].secrets[0]: unknown secret")
    assert problems[2] == (
        ".shiplog.yml:9:18: steps[1].depends_on[0]: unknown step 'gret' (did you mean 'greet'?)"
    )
    assert count_events(database) == 0
