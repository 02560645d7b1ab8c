"""The step sandbox, through real runs: limits, capabilities, user, and privileges by grant only."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.database import Database
from app.executor.actions import StepFailed
from app.executor.runner import sandbox_policy
from app.pipeline import CommandStep
from app.queries.logs import read_log
from events.store import EventStore
from events.vocabulary import RunFailed, StepFinished
from tests.support.runs import (
    BUSYBOX,
    commands_pipeline,
    make_repo,
    of_type,
    one,
    run_events,
    shiplog_run,
    verify_logs,
)

pytestmark = pytest.mark.usefixtures("leftover_guard")

SANDBOX = sandbox_policy(Settings())
ALWAYS = """\
    when:
      status: [success, failure]
"""


def log_of(database: Database, run_id: str, step: str) -> list[str]:
    return [line.text for line in read_log(database.app_url, run_id, step)]


def test_a_fork_bomb_and_a_memory_hog_fail_with_their_reason_and_the_run_goes_on(
    cli: CliRunner, store: EventStore, database: Database, busybox_image: str, tmp_path: Path
) -> None:
    pipeline = commands_pipeline(
        f"""\
  - name: fork-bomb
    image: {BUSYBOX}
    resources: {{pids: 64}}
    timeout: 2m
    commands:
      - "bomb() {{ bomb | bomb & }}; while true; do bomb; done"
  - name: memory-hog
    image: {BUSYBOX}
    resources: {{memory: 32m}}
    timeout: 2m
    commands:
      - echo eating
      - dd if=/dev/zero of=/dev/null bs=256M count=1
{ALWAYS}\
  - name: still-alive
    image: {BUSYBOX}
    commands:
      - echo the runner is fine
{ALWAYS}"""
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})

    run_id, output, exit_code = shiplog_run(cli, repo)

    assert exit_code == 1, output
    events = run_events(store, run_id)
    bomb = one(events, StepFinished, step="fork-bomb")
    assert bomb.exit_code != 0 and not bomb.timed_out
    assert bomb.reason is not None
    assert bomb.reason.startswith("out of processes: it reached its limit of 64 processes")
    hog = one(events, StepFinished, step="memory-hog")
    assert hog.exit_code == 137 and not hog.timed_out
    assert hog.reason == (
        "out of memory: it exceeded its limit of 32 MiB (resources.memory) and was killed"
    )
    assert log_of(database, run_id, "memory-hog")[-1] == f"shiplog: {hog.reason}"
    alive = one(events, StepFinished, step="still-alive")
    assert (alive.exit_code, alive.reason) == (0, None)
    assert log_of(database, run_id, "still-alive")[-1] == "the runner is fine"
    assert events[-1].data == RunFailed(reason="step 'fork-bomb' failed", step="fork-bomb")
    verify_logs(database, run_id, of_type(events, StepFinished))


def test_a_step_keeps_only_the_allowed_capabilities_without_new_privileges_within_its_limits(
    cli: CliRunner, store: EventStore, database: Database, busybox_image: str, tmp_path: Path
) -> None:
    pipeline = commands_pipeline(
        f"""\
  - name: inspect
    image: {BUSYBOX}
    resources: {{memory: 96m, cpus: 0.5, pids: 100}}
    commands:
      - grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status
      - cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max
      - cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us
      - id -u
      - "! mknod /tmp/device c 1 3"
      - "! ping -c 1 127.0.0.1"
  - name: as-nobody
    image: {BUSYBOX}
    user: "65534:65534"
    commands:
      - id -u
      - touch /workspace/written-by-nobody
"""
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})

    run_id, output, exit_code = shiplog_run(cli, repo)

    assert exit_code == 0, output
    lines = log_of(database, run_id, "inspect")
    wanted = 0
    for cap in ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID"):
        wanted |= 1 << CAPABILITY_BITS[cap]
    wanted |= 1 << CAPABILITY_BITS["NET_BIND_SERVICE"]
    assert f"CapEff:\t{wanted:016x}" in lines and f"CapBnd:\t{wanted:016x}" in lines
    assert "NoNewPrivs:\t1" in lines
    assert str(96 * 1024 * 1024) in lines and "100" in lines
    assert "50000" in lines and "100000" in lines  # half of each CPU period
    assert lines[lines.index("+ id -u") + 1] == "0"  # the image names no user: root, confined
    assert log_of(database, run_id, "as-nobody")[1] == "65534"


# Bit numbers of the capabilities, from linux/capability.h.
CAPABILITY_BITS = {
    "CHOWN": 0,
    "DAC_OVERRIDE": 1,
    "FOWNER": 3,
    "FSETID": 4,
    "KILL": 5,
    "SETGID": 6,
    "SETUID": 7,
    "NET_BIND_SERVICE": 10,
}


def test_the_host_network_and_the_docker_socket_are_refused_until_an_admin_allows_them(
    cli: CliRunner, store: EventStore, database: Database, busybox_image: str, tmp_path: Path
) -> None:
    pipeline = commands_pipeline(
        f"""\
  - name: on-the-host
    image: {BUSYBOX}
    host_network: true
    commands:
      - hostname
  - name: socket
    image: {BUSYBOX}
    docker_socket: true
    commands:
      - test -S /var/run/docker.sock && echo the socket is here
"""
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})

    refused = cli.invoke(app, ["run", str(repo)])
    assert refused.exit_code != 0
    message = str(refused.exception)
    assert ".shiplog.yml:5:19: steps[0].host_network: this repository is not allowed " in message
    assert "`shiplog sandbox allow host-network --repo REPOSITORY`" in message
    assert "steps[1].docker_socket: this repository is not allowed 'docker-socket'" in message

    for privilege in ("host-network", "docker-socket"):
        allowed = cli.invoke(app, ["sandbox", "allow", privilege, "--repo", str(repo)])
        assert allowed.exit_code == 0, allowed.output
    listed = cli.invoke(app, ["sandbox", "ls"]).output.splitlines()
    assert [line.split("\t")[1] for line in listed] == ["docker-socket", "host-network"]

    run_id, output, exit_code = shiplog_run(cli, repo)

    assert exit_code == 0, output
    assert log_of(database, run_id, "on-the-host")[-1] == socket.gethostname()
    assert log_of(database, run_id, "socket")[-1] == "the socket is here"

    revoked = cli.invoke(app, ["sandbox", "revoke", "host-network", "--repo", str(repo)])
    assert revoked.output.endswith("no longer has host-network\n")
    assert "host_network" in str(cli.invoke(app, ["run", str(repo)]).exception)


def test_privileged_mode_is_refused_without_a_grant_and_asked_of_the_engine_with_one() -> None:
    # This engine itself runs without every capability, so it cannot start a privileged
    # container; what shiplog asks of it is checked here instead.
    step = CommandStep(name="dind", image=BUSYBOX, privileged=True)
    with pytest.raises(StepFailed, match=r"asks for 'privileged', which github\.com/a/b is not"):
        SANDBOX.allowing((), "github.com/a/b").container_options("step dind", step, None, "n")
    granted = SANDBOX.allowing(("privileged",), "github.com/a/b")
    options = granted.container_options("step dind", step, None, "net")
    assert options["privileged"] is True
    assert "cap_drop" not in options and "security_opt" not in options
    assert options["pids_limit"] == SANDBOX.pids and options["network"] == "net"


def test_a_services_container_is_sandboxed_like_a_step(
    cli: CliRunner, store: EventStore, database: Database, busybox_image: str, tmp_path: Path
) -> None:
    header = f"""\
services:
  - name: web
    image: {BUSYBOX}
    resources: {{memory: 48m, pids: 50}}
    user: "65534"
    commands:
      - mkdir -p /tmp/www
      - grep -E '^(CapEff|NoNewPrivs)' /proc/self/status > /tmp/www/status
      - id -u >> /tmp/www/status
      - cd /sys/fs/cgroup && cat memory/memory.limit_in_bytes pids/pids.max >> /tmp/www/status
      - httpd -f -p 8080 -h /tmp/www
"""
    pipeline = commands_pipeline(
        f"""\
  - name: ask
    image: {BUSYBOX}
    commands:
      - for i in $(seq 1 100); do wget -qO- http://web:8080/status && exit 0; sleep 0.1; done
""",
        header=header,
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})

    run_id, output, exit_code = shiplog_run(cli, repo)

    assert exit_code == 0, output
    lines = log_of(database, run_id, "ask")
    assert "CapEff:\t0000000000000000" in lines  # a user other than root keeps none
    assert "NoNewPrivs:\t1" in lines and "65534" in lines
    assert str(48 * 1024 * 1024) in lines and "50" in lines


def test_a_step_asking_for_more_than_the_runner_allows_fails_saying_which_limit(
    cli: CliRunner, store: EventStore, busybox_image: str, tmp_path: Path
) -> None:
    pipeline = commands_pipeline(
        f"""\
  - name: greedy
    image: {BUSYBOX}
    resources: {{memory: 64g}}
    commands: [echo never]
"""
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})

    run_id, output, exit_code = shiplog_run(cli, repo)

    assert exit_code == 1, output
    finished = one(run_events(store, run_id), StepFinished, step="greedy")
    assert finished.reason == (
        f"step greedy: resources: memory {64 * 1024**3} is more than this runner allows "
        f"({16 * 1024**3}, SHIPLOG_STEP_MAX_MEMORY)"
    )
