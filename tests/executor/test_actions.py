"""Step actions against a real Docker engine, the local busybox image and a loopback registry."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from app.config import Settings
from app.executor.actions import (
    CommandOutcome,
    RunContext,
    SourceFacts,
    StepCancelled,
    StepFailed,
    build_script,
    cleanup_run,
    commands_digest,
    context_digest,
    digest_entries,
    prepare_run,
    read_reports,
    run_build_step,
    run_command_step,
    run_push_step,
    start_services,
    step_container_running,
)
from app.executor.actions.dockerfile import parse_stages
from app.executor.actions.support import missed_tail
from app.executor.runner import sandbox_policy
from app.pipeline import BuildStep, CommandStep, PushStep, Service
from events.vocabulary import BaseImage, ImageBuilt, TestsReported

BUSYBOX = "shiplog/busybox:1"
RUN_LABEL = "dev.shiplog.run"
SECRET = "s3cr3t-Value-9f8e7d"
SANDBOX = sandbox_policy(Settings())


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def ctx(
    docker_client: Any, busybox_image: str, run_label: dict[str, str], tmp_path: Path
) -> Iterator[RunContext]:
    """A run with its own network and workspace; everything labelled with it is removed after."""
    run_id = str(uuid.uuid4())
    labels = {**run_label, RUN_LABEL: run_id}
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    network = prepare_run(docker_client, run_id, labels)
    yield RunContext(docker_client, run_id, workspace, network, labels, threading.Event())
    cleanup_run(docker_client, run_id)


@pytest.fixture
def image_tags(docker_client: Any) -> Iterator[list[str]]:
    """Tags a test creates; the images are removed after it."""
    tags: list[str] = []
    yield tags
    for tag in tags:
        with contextlib.suppress(docker.errors.APIError):
            docker_client.images.remove(tag, force=True)


@pytest.fixture
def source() -> SourceFacts:
    return SourceFacts(
        repository="https://ci:token@git.example.com/acme/web.git",
        commit="0123456789abcdef0123456789abcdef01234567",
        commit_time=datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2))),
        ref="refs/heads/main",
        pipeline_name="web",
    )


class Recorder:
    """Collects what a command step reports, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    @property
    def lines(self) -> list[str]:
        return [event[1] for event in self.events if event[0] == "log"]

    def log(self, line: str) -> None:
        self.events.append(("log", line))

    def started(self, image: str, digest: str | None, commands: str) -> None:
        self.events.append(("started", image, digest or "", commands))


def command_step(*commands: str, name: str = "step", **fields: Any) -> CommandStep:
    return CommandStep(name=name, image=BUSYBOX, commands=commands, **fields)


def run(
    ctx: RunContext, step: CommandStep, timeout: float = 60, **secrets: str
) -> tuple[CommandOutcome, Recorder]:
    recorder = Recorder()
    outcome = run_command_step(
        ctx,
        step,
        image=step.image,
        secrets=secrets,
        log=recorder.log,
        on_started=recorder.started,
        timeout=timeout,
        sandbox=SANDBOX,
    )
    return outcome, recorder


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def build_step(tag: str, **spec: Any) -> BuildStep:
    return BuildStep.model_validate({"name": "build", "build": {"tags": [tag], **spec}})


# --- command steps --------------------------------------------------------------------------


def test_command_step_prints_output_lines_in_order_and_exits_0(ctx: RunContext) -> None:
    step = command_step("echo one", "echo two >&2", "printf 'partial'")
    outcome, recorder = run(ctx, step)
    assert recorder.lines == [
        "+ echo one",
        "one",
        "+ echo two >&2",
        "two",
        "+ printf 'partial'",
        "partial",
    ]
    assert (outcome.exit_code, outcome.timed_out, outcome.cancelled) == (0, False, False)
    assert outcome.commands_digest == commands_digest(build_script(step.commands))
    assert outcome.commands_digest.startswith("sha256:") and outcome.duration_ms > 0
    assert not step_container_running(ctx.client, ctx.run_id)
    assert not ctx.client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={ctx.run_id}"})


def test_a_last_line_without_newline_is_not_lost_when_the_engine_is_busy(
    ctx: RunContext,
) -> None:
    step = command_step("echo one", "printf partial")
    endings: list[list[str]] = []

    def steps() -> None:
        for _ in range(5):
            endings.append(run(ctx, step)[1].lines[-2:])

    threads = [threading.Thread(target=steps) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert endings == [["+ printf partial", "partial"]] * 25


def test_missed_tail_is_the_end_of_the_last_entries_the_stream_did_not_deliver() -> None:
    assert missed_tail(b"a\nb\n", b"a\nb\nc") == b"c"
    assert missed_tail(b"a\nb\nc", b"b\nc") == b""
    assert missed_tail(b"x\nx\n", b"x\nx\nx") == b"x"
    assert missed_tail(b"", b"all") == b"all"


def test_failing_command_returns_its_exit_code_and_later_commands_do_not_run(
    ctx: RunContext,
) -> None:
    outcome, recorder = run(ctx, command_step("echo before", "exit 3", "touch ran-after"))
    assert outcome.exit_code == 3
    assert recorder.lines == ["+ echo before", "before", "+ exit 3"]
    assert not (ctx.workspace / "ran-after").exists()


def test_on_started_gets_image_ref_image_id_digest_and_commands_digest_first(
    ctx: RunContext, busybox_image: str
) -> None:
    outcome, recorder = run(ctx, command_step("echo hi"))
    assert recorder.events[0] == ("started", BUSYBOX, busybox_image, outcome.commands_digest)
    assert [e for e in recorder.events if e[0] == "started"] == recorder.events[:1]
    assert (outcome.image, outcome.image_digest) == (BUSYBOX, busybox_image)


def test_workspace_is_shared_between_steps_and_is_the_working_directory(
    ctx: RunContext,
) -> None:
    run(ctx, command_step("pwd", "echo hello > shared.txt", name="write"))
    outcome, recorder = run(ctx, command_step("cat /workspace/shared.txt", name="read"))
    assert outcome.exit_code == 0 and recorder.lines[-1] == "hello"
    assert (ctx.workspace / "shared.txt").read_text() == "hello\n"


def test_environment_and_only_the_declared_secrets_reach_the_step(ctx: RunContext) -> None:
    step = command_step(
        'echo "$GREETING ${#TOKEN} ${OTHER:-unset}"', environment={"GREETING": "hi"}
    )
    step = step.model_copy(update={"secrets": ("TOKEN",)})
    _, recorder = run(ctx, step, TOKEN=SECRET, OTHER="not-for-this-step")
    assert recorder.lines[-1] == f"hi {len(SECRET)} unset"


def test_missing_image_fails_clearly_and_is_never_pulled(ctx: RunContext) -> None:
    step = CommandStep(name="x", image="shiplog-test/absent:404", commands=("true",))
    with pytest.raises(StepFailed, match=r"shiplog-test/absent:404 is not on this Docker engine"):
        run(ctx, step)


def test_timeout_kills_the_container_and_reports_timed_out(ctx: RunContext) -> None:
    outcome, _ = run(ctx, command_step("sleep 60"), timeout=1)
    assert outcome.timed_out and not outcome.cancelled
    assert outcome.exit_code == 137  # SIGKILL: the sleep did not run to its end


def test_setting_cancelled_stops_the_container_within_10_seconds(ctx: RunContext) -> None:
    recorder = Recorder()
    cancelled_at: list[float] = []

    def started(image: str, digest: str | None, commands: str) -> None:
        def cancel() -> None:
            time.sleep(0.5)
            cancelled_at.append(time.monotonic())
            ctx.cancelled.set()

        threading.Thread(target=cancel, daemon=True).start()

    outcome = run_command_step(
        ctx,
        command_step("echo going to sleep", "sleep 600"),
        image=BUSYBOX,
        secrets={},
        log=recorder.log,
        on_started=started,
        timeout=3600,
        sandbox=SANDBOX,
    )
    assert time.monotonic() - cancelled_at[0] < 10
    assert outcome.cancelled and not outcome.timed_out and outcome.exit_code != 0
    assert not step_container_running(ctx.client, ctx.run_id)
    with pytest.raises(StepCancelled):
        run(ctx, command_step("true"))


def test_service_is_reachable_by_its_name_from_a_step_on_the_run_network(
    ctx: RunContext,
) -> None:
    service_lines: list[tuple[str, str]] = []
    web = Service(
        name="web",
        image=BUSYBOX,
        commands=(
            "mkdir -p /www",
            "echo hello-from-web > /www/index.html",
            "httpd -f -p 8080 -h /www",
        ),
    )
    start_services(
        ctx, [web], {}, lambda name, line: service_lines.append((name, line)), sandbox=SANDBOX
    )
    poll = (
        "for i in $(seq 1 100); do wget -q -O - http://web:8080/ && exit 0; sleep 0.1; done; exit 1"
    )
    outcome, recorder = run(ctx, command_step(poll))
    assert outcome.exit_code == 0
    assert "hello-from-web" in recorder.lines
    (container,) = ctx.client.containers.list(
        filters={"label": [f"{RUN_LABEL}={ctx.run_id}", "dev.shiplog.service=web"]}
    )
    assert container.status == "running"
    assert ("web", "+ httpd -f -p 8080 -h /www") in service_lines


def test_cleanup_run_removes_everything_labelled_with_the_run_including_running_containers(
    ctx: RunContext, busybox_image: str
) -> None:
    labels = dict(ctx.labels)
    ctx.client.containers.run(busybox_image, ["sleep", "600"], detach=True, labels=labels)
    ctx.client.containers.create(busybox_image, ["true"], labels=labels)
    ctx.client.volumes.create(f"shiplog-test-{ctx.run_id}", labels=labels)
    selector = {"label": f"{RUN_LABEL}={ctx.run_id}"}
    assert cleanup_run(ctx.client, ctx.run_id) == 4  # two containers, the network, the volume
    assert not ctx.client.containers.list(all=True, filters=selector)
    assert not ctx.client.networks.list(filters=selector)
    assert not ctx.client.volumes.list(filters=selector)
    assert cleanup_run(ctx.client, ctx.run_id) == 0


# --- build steps ----------------------------------------------------------------------------


def test_build_from_busybox_records_base_digest_and_oci_labels_that_are_on_the_image(
    ctx: RunContext, busybox_image: str, image_tags: list[str], source: SourceFacts
) -> None:
    repository = f"shiplog-test/app-{uuid.uuid4().hex[:8]}"
    image_tags.extend([f"{repository}:1.2.3", f"{repository}:latest"])
    dockerfile = f"FROM {BUSYBOX}\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt > /copied\n"
    write(ctx.workspace, {"Dockerfile": dockerfile, "hello.txt": "hello\n"})
    step = BuildStep.model_validate(
        {"name": "build", "build": {"tags": image_tags, "labels": {"team": "web"}}}
    )
    lines: list[str] = []
    built = run_build_step(ctx, step, source=source, secrets={}, log=lines.append)
    assert built.base_images == (BaseImage(name=BUSYBOX, digest=busybox_image),)
    assert built.labels == {
        "org.opencontainers.image.created": "2024-05-01T10:00:00Z",
        "org.opencontainers.image.source": "https://git.example.com/acme/web.git",
        "org.opencontainers.image.revision": source.commit,
        "org.opencontainers.image.version": "1.2.3",
        "org.opencontainers.image.title": "web",
        "org.opencontainers.image.base.name": BUSYBOX,
        "org.opencontainers.image.base.digest": busybox_image,
        RUN_LABEL: ctx.run_id,
        "team": "web",
    }
    image = ctx.client.images.get(built.image_id)
    assert built.labels.items() <= image.attrs["Config"]["Labels"].items()
    assert sorted(image.tags) == sorted(image_tags)
    assert built.dockerfile_sha256 == hashlib.sha256(dockerfile.encode()).hexdigest()
    assert built.context_digest == context_digest(ctx.workspace)
    assert lines[0].startswith("Step 1/") and lines[0].endswith(f" : FROM {BUSYBOX}")
    event = ImageBuilt(step="build", **built.as_event_fields())
    assert event.image_id == built.image_id and event.secret_mounts == ()

    # another run's build takes the tag; this run's next step still runs its own image
    ctx.client.images.get(busybox_image).tag(repository, "1.2.3")
    recorder = Recorder()
    step_using_it = CommandStep(name="use", image=image_tags[0], commands=("cat /copied",))
    run_command_step(
        ctx,
        step_using_it,
        image=image_tags[0],
        image_id=built.image_id,
        secrets={},
        log=recorder.log,
        on_started=recorder.started,
        timeout=60,
        sandbox=SANDBOX,
    )
    assert recorder.events[0][1:3] == (image_tags[0], built.image_id)
    assert recorder.lines[-1] == "hello"


def test_context_digest_is_independent_of_creation_order_and_changes_with_one_file(
    tmp_path: Path,
) -> None:
    files = {"Dockerfile": "FROM scratch\n", "a.txt": "a", "src/b.py": "b", "src/c/d": "d"}
    first, second = tmp_path / "first", tmp_path / "second"
    write(first, files)
    write(second, dict(reversed(files.items())))
    for root in (first, second):
        (root / "link").symlink_to("src/b.py")
    assert context_digest(first) == context_digest(second) == walked_digest(first)
    (second / "src/b.py").write_text("B")
    assert context_digest(first) != context_digest(second)
    (second / "src/b.py").write_text("b")
    (second / "src/b.py").chmod(0o755)
    assert context_digest(first) != context_digest(second)
    (second / "src/b.py").chmod((first / "src/b.py").stat().st_mode & 0o777)
    write(first, {".dockerignore": "ignored/\n", "ignored/big.log": "x"})
    write(second, {".dockerignore": "ignored/\n", "ignored/big.log": "y"})
    assert context_digest(first) == context_digest(second)


def walked_digest(root: Path) -> str:
    """The documented definition, computed from the directory (no .dockerignore) by os.walk."""
    entries = []
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory, name)
            mode = path.lstat().st_mode
            if path.is_symlink():
                content = hashlib.sha256(os.readlink(path).encode()).hexdigest()
            elif path.is_file():
                content = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                content = ""
            entries.append((path.relative_to(root).as_posix(), mode, content))
    return digest_entries(entries)


def test_digest_entries_hashes_sorted_path_mode_hash_lines() -> None:
    entries = [("b/c", 0o100755, "22"), ("a", 0o100644, "11"), ("d", 0o40755, "")]
    expected = b"a\x00100644\x0011\nb/c\x00100755\x0022\nd\x0040755\x00\n"
    assert digest_entries(entries) == "sha256:" + hashlib.sha256(expected).hexdigest()
    assert digest_entries(reversed(entries)) == digest_entries(entries)


def test_a_secret_build_argument_is_refused_before_anything_is_built(
    ctx: RunContext, image_tags: list[str], source: SourceFacts
) -> None:
    image_tags.append(f"shiplog-test/secret-{uuid.uuid4().hex[:8]}:ci")
    write(ctx.workspace, {"Dockerfile": f"FROM {BUSYBOX}\nARG TOKEN\nRUN echo $TOKEN\n"})
    step = build_step(image_tags[0], args={"TOKEN": {"from_secret": "PIP_TOKEN"}})
    lines: list[str] = []
    with pytest.raises(StepFailed, match="secret build argument stays in the image's history"):
        run_build_step(ctx, step, source=source, secrets={"PIP_TOKEN": SECRET}, log=lines.append)
    assert lines == []
    with pytest.raises(docker.errors.ImageNotFound):
        ctx.client.images.get(image_tags[0])


def test_multi_stage_dockerfile_with_arg_substituted_from_resolves_both_bases(
    ctx: RunContext,
    docker_client: Any,
    busybox_image: str,
    image_tags: list[str],
    source: SourceFacts,
) -> None:
    tools = f"shiplog-test/tools-{uuid.uuid4().hex[:8]}:1"
    image_tags.extend([tools, f"shiplog-test/multi-{uuid.uuid4().hex[:8]}"])
    write(ctx.workspace / "tools", {"Dockerfile": f"FROM {BUSYBOX}\nLABEL tools=yes\n"})
    tools_id = docker_client.images.build(
        path=str(ctx.workspace / "tools"), tag=tools, rm=True, forcerm=True
    )[0].id
    dockerfile = (
        f"ARG BASE={BUSYBOX}\nARG TOOLS\n"
        "FROM ${BASE} AS builder\nRUN echo built > /artifact\n"
        "FROM $TOOLS AS tools\n"
        "FROM builder\nCOPY --from=tools /bin/busybox /tools-busybox\n"
    )
    write(ctx.workspace, {"build/Dockerfile.multi": dockerfile})
    step = build_step(
        image_tags[1], context="build", dockerfile="Dockerfile.multi", args={"TOOLS": tools}
    )
    built = run_build_step(ctx, step, source=source, secrets={}, log=lambda line: None)
    assert built.base_images == (
        BaseImage(name=BUSYBOX, digest=busybox_image),
        BaseImage(name=tools, digest=tools_id),
    )
    assert built.labels["org.opencontainers.image.base.name"] == BUSYBOX
    assert built.labels["org.opencontainers.image.version"] == source.commit[:12]


def test_parse_stages_handles_platform_as_scratch_defaults_continuations_and_escape() -> None:
    text = (
        "# escape=`\n# a comment\nARG REG=registry.example.com\nARG TAG\n"
        "FROM --platform=linux/amd64 ${REG}/base:${TAG:-1.0} AS Build\n"
        "RUN echo `\n  # inside a continuation\n  done\n"
        "FROM scratch\nFROM build AS final\n"
    )
    stages = parse_stages(text, {"REG": "localhost:5000"})
    assert [(s.base, s.name, s.parent, s.external) for s in stages] == [
        ("localhost:5000/base:1.0", "build", None, True),
        ("scratch", None, None, False),
        ("build", "final", 0, False),
    ]


def test_from_naming_a_missing_image_fails_clearly_before_building(
    ctx: RunContext, source: SourceFacts
) -> None:
    write(ctx.workspace, {"Dockerfile": "FROM shiplog-test/missing:404\nRUN echo building\n"})
    lines: list[str] = []
    with pytest.raises(StepFailed) as raised:
        step = build_step("shiplog-test/never:1")
        run_build_step(ctx, step, source=source, secrets={}, log=lines.append)
    message = str(raised.value)
    assert (
        "line 1" in message and "shiplog-test/missing:404 is not on this Docker engine" in message
    )
    assert lines == []


def test_failing_run_instruction_fails_the_build_with_the_engine_message(
    ctx: RunContext, source: SourceFacts
) -> None:
    write(ctx.workspace, {"Dockerfile": f"FROM {BUSYBOX}\nRUN exit 7\n"})
    with pytest.raises(StepFailed, match="returned a non-zero code: 7"):
        run_build_step(
            ctx, build_step("shiplog-test/never:2"), source=source, secrets={}, log=print
        )


def test_build_refuses_shiplog_labels_and_contexts_outside_the_workspace(
    ctx: RunContext, source: SourceFacts, tmp_path: Path
) -> None:
    write(ctx.workspace, {"Dockerfile": f"FROM {BUSYBOX}\n"})
    step = build_step("shiplog-test/never:3", labels={"dev.shiplog.run": "forged"})
    with pytest.raises(StepFailed, match=r"dev\.shiplog\.\* are shiplog's: dev\.shiplog\.run"):
        run_build_step(ctx, step, source=source, secrets={}, log=print)
    (ctx.workspace / "elsewhere").symlink_to(tmp_path)
    with pytest.raises(StepFailed, match="leads outside the workspace"):
        run_build_step(
            ctx,
            build_step("shiplog-test/never:3", context="elsewhere"),
            source=source,
            secrets={},
            log=print,
        )


def test_cancelling_a_build_stops_its_run_instruction(ctx: RunContext, source: SourceFacts) -> None:
    write(ctx.workspace, {"Dockerfile": f"FROM {BUSYBOX}\nRUN echo sleeping && sleep 600\n"})

    def log(line: str) -> None:
        if line == "sleeping":
            threading.Timer(0.2, ctx.cancelled.set).start()

    started = time.monotonic()
    with pytest.raises(StepCancelled):
        run_build_step(ctx, build_step("shiplog-test/never:4"), source=source, secrets={}, log=log)
    assert time.monotonic() - started < 10


# --- push steps -----------------------------------------------------------------------------


def test_push_returns_the_digest_the_registry_reports(
    ctx: RunContext, busybox_image: str, registry: Any, image_tags: list[str]
) -> None:
    name = f"shiplog-test/push-{uuid.uuid4().hex[:8]}"
    built = f"{name}:ci"
    ctx.client.images.get(busybox_image).tag(built)
    repository = f"{registry.address}/{name}"
    image_tags.extend([built, f"{repository}:1.0", f"{repository}:latest"])
    step = PushStep.model_validate(
        {
            "name": "push",
            "push": {"image": built, "repository": repository, "tags": ["1.0", "latest"]},
        }
    )
    lines: list[str] = []
    pushed = run_push_step(
        ctx, step, credentials=("ci", SECRET), log=lines.append, image_id=busybox_image
    )
    assert [(p.repository, p.tag) for p in pushed] == [(repository, "1.0"), (repository, "latest")]
    for item in pushed:
        assert item.digest == registry.manifest_digest(name, item.tag)
        assert item.image_id == busybox_image
    assert any(line.endswith(": Pushed") or "digest: sha256:" in line for line in lines)
    assert not any(SECRET in line for line in lines)


def test_push_to_an_unreachable_registry_fails_with_the_engine_error(
    ctx: RunContext, busybox_image: str, image_tags: list[str]
) -> None:
    built = f"shiplog-test/push-{uuid.uuid4().hex[:8]}:ci"
    ctx.client.images.get(busybox_image).tag(built)
    image_tags.extend([built, "127.0.0.1:9/shiplog-test/nowhere:1"])
    step = PushStep.model_validate(
        {
            "name": "push",
            "push": {
                "image": built,
                "repository": "127.0.0.1:9/shiplog-test/nowhere",
                "tags": ["1"],
            },
        }
    )
    with pytest.raises(StepFailed, match=r"push of 127\.0\.0\.1:9/shiplog-test/nowhere:1 failed"):
        run_push_step(ctx, step, credentials=None, log=lambda line: None)


# --- JUnit reports --------------------------------------------------------------------------

SUITES = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="unit" tests="3">
    <testcase classname="tests.test_a" name="test_ok" time="0.1"/>
    <testcase classname="tests.test_a" name="test_broken">
      <failure message="boom">x</failure>
    </testcase>
    <testcase classname="tests.test_a" name="test_later"><skipped/></testcase>
  </testsuite>
</testsuites>
"""
SUITE = """<testsuite name="more">
  <testcase classname="tests.test_b" name="test_crash"><error message="oops"/></testcase>
  <testcase name="bare_ok"/>
</testsuite>
"""


def test_junit_reports_are_counted_and_failures_named(tmp_path: Path) -> None:
    write(tmp_path, {"reports/a.xml": SUITES, "reports/sub/b.xml": SUITE, "reports/x.txt": "no"})
    summary = read_reports(tmp_path, ["reports/*.xml", "reports/**/*.xml"])
    assert summary is not None
    assert (summary.passed, summary.failed, summary.skipped) == (2, 2, 1)
    assert summary.failing == ("tests.test_a.test_broken", "tests.test_b.test_crash")
    assert summary.files == ("reports/a.xml", "reports/sub/b.xml")
    assert summary.report_sha256 == hashlib.sha256((SUITES + SUITE).encode()).hexdigest()
    TestsReported(step="test", **summary.as_event_fields())
    assert read_reports(tmp_path, ["nothing/*.xml"]) is None


def test_junit_failing_names_are_capped_at_100(tmp_path: Path) -> None:
    cases = "".join(f'<testcase name="t{i}"><failure/></testcase>' for i in range(150))
    write(tmp_path, {"r.xml": f"<testsuite>{cases}</testsuite>"})
    summary = read_reports(tmp_path, ["r.xml"])
    assert summary is not None and summary.failed == 150 and len(summary.failing) == 100


def test_malformed_junit_report_names_the_file_line_and_column(tmp_path: Path) -> None:
    write(tmp_path, {"reports/bad.xml": "<testsuite>\n  <testcase name='a'>\n</testsuite>\n"})
    with pytest.raises(StepFailed, match=r"reports/bad\.xml .*line 3, column 3: mismatched tag"):
        read_reports(tmp_path, ["reports/*.xml"])


def test_junit_report_through_a_symlink_outside_the_workspace_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.xml"
    outside.write_text(SUITE)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    os.symlink(outside, workspace / "r.xml")
    with pytest.raises(StepFailed, match="outside the workspace"):
        read_reports(workspace, ["*.xml"])


def test_context_digest_leaves_out_the_checkouts_git_directory(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "Dockerfile").write_text("FROM scratch\n")
    (plain / "app.txt").write_text("hello\n")
    cloned = tmp_path / "cloned"
    shutil.copytree(plain, cloned)
    (cloned / ".git").mkdir()
    (cloned / ".git" / "index").write_bytes(os.urandom(64))  # differs on every clone
    assert context_digest(cloned) == context_digest(plain)

    (cloned / ".dockerignore").write_text("!.git\n")
    (plain / ".dockerignore").write_text("!.git\n")
    assert context_digest(cloned) != context_digest(plain)  # taken back on purpose
