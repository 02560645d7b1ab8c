"""Containers of a run: its network, its command steps, and cleaning up after it.

Every object made here (and by services.py) carries the run's labels, with
`dev.shiplog.run=<run id>` always among them, so that `cleanup_run` (and the reaper, for
a run whose runner died) finds it.
"""

from __future__ import annotations

import contextlib
import hashlib
import shlex
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors

from app.engine import EngineStopped, engine_answers
from app.executor.actions.cgroups import (
    ProbeReader,
    pids_events_file,
    probe_mark,
    probed_command,
    refused_forks,
)
from app.executor.actions.errors import StepCancelled, StepFailed
from app.executor.actions.sandbox import Limits, SandboxPolicy, image_user
from app.executor.actions.support import (
    RUN_LABEL,
    STEP_LABEL,
    SWARM_TASK_LABEL,
    LineSplitter,
    LogSink,
    missed_tail,
    object_labels,
    resolve_image,
    secret_env,
)
from app.pipeline import WORKSPACE, CommandStep

NETWORK_PREFIX = "shiplog-"
STOP_GRACE_SECONDS = 2
"""On cancellation a step's container gets SIGTERM, then SIGKILL this many seconds later."""
POLL_SECONDS = 0.05
SHELL = ["/bin/sh", "-c"]
TAIL_ENTRIES = 10
TAIL_BYTES = 256 * 1024


@dataclass(frozen=True)
class RunContext:
    """What every action of one run needs: the engine, the run, its workspace and network."""

    client: Any
    run_id: str
    workspace: Path
    network: str
    labels: Mapping[str, str]
    cancelled: threading.Event


@dataclass(frozen=True)
class CommandOutcome:
    """How a command step's container ended; `image_digest` and `commands_digest` as recorded.

    `reason` says why the sandbox stopped it (out of memory, out of processes, out of time).
    """

    exit_code: int
    duration_ms: int
    timed_out: bool
    cancelled: bool
    image: str
    image_digest: str | None
    commands_digest: str
    reason: str | None = None


def network_name(run_id: str) -> str:
    """The name of the run's bridge network."""
    return f"{NETWORK_PREFIX}{run_id}"


def prepare_run(client: Any, run_id: str, labels: Mapping[str, str]) -> str:
    """Create the run's labelled bridge network (or reuse the run's own) and return its name."""
    name = network_name(run_id)
    selector = {"name": name, "label": f"{RUN_LABEL}={run_id}"}
    for network in client.networks.list(filters=selector):
        if network.name == name:
            return name
    client.networks.create(
        name, driver="bridge", labels=object_labels(labels, run_id), check_duplicate=True
    )
    return name


def build_script(commands: Sequence[str]) -> str:
    """The shell script for `commands`: stderr joins stdout, `set -e`, and `+ command` before each.

    No commands give an empty script: the image's own command runs.
    """
    if not commands:
        return ""
    lines = ["exec 2>&1", "set -e"]
    for command in commands:
        lines.append(f"printf '%s\\n' {shlex.quote('+ ' + command)}")
        lines.append(command)
    return "\n".join(lines) + "\n"


def commands_digest(script: str) -> str:
    """`sha256:<hex>` of the script's UTF-8 bytes."""
    return "sha256:" + hashlib.sha256(script.encode()).hexdigest()


def shell_args(script: str) -> dict[str, Any]:
    """Container arguments that run `script` in the image's /bin/sh (none for no script)."""
    return {"entrypoint": SHELL, "command": [script]} if script else {}


class _Watchdog(threading.Thread):
    """Kills the container at the deadline or at its process limit; stops it on a cancel."""

    def __init__(
        self,
        container: Any,
        cancelled: threading.Event,
        deadline: float,
        pids_events: Path | None = None,
    ) -> None:
        super().__init__(name=f"shiplog-watchdog-{container.id[:12]}", daemon=True)
        self.container = container
        self.cancel_event = cancelled
        self.deadline = deadline
        self.pids_events = pids_events
        self.finished = threading.Event()
        self.timed_out = False
        self.cancelled = False
        self.out_of_processes = False

    def run(self) -> None:
        while not self.finished.wait(POLL_SECONDS):
            try:
                if self.cancel_event.is_set():
                    self.container.stop(timeout=STOP_GRACE_SECONDS)
                    self.cancelled = True
                    return
                if time.monotonic() >= self.deadline:
                    self.container.kill()
                    self.timed_out = True
                    return
                if self.pids_events is not None and refused_forks(self.pids_events) > 0:
                    # A fork was refused: a fork bomb, or a step that needs a higher limit.
                    # Either way it cannot go on as written; stop it now, not at its timeout.
                    self.container.kill()
                    self.out_of_processes = True
                    return
            except docker.errors.APIError:  # it exited (or was removed) on its own meanwhile
                return


def run_command_step(
    ctx: RunContext,
    step: CommandStep,
    *,
    image: str,
    secrets: Mapping[str, str],
    log: LogSink,
    on_started: Callable[[str, str | None, str], None],
    timeout: float,
    sandbox: SandboxPolicy,
    image_id: str | None = None,
) -> CommandOutcome:
    """Run the step's commands in a container of `image` in the workspace; stream its output.

    Give `image_id` for an image built by this run: that image runs, whatever `image` (the
    tag, still what is reported) names on the engine by now, e.g. after another run's build.
    The container is confined by `sandbox`; one that runs out of memory or processes is
    stopped, and the outcome's `reason` says so.
    """
    owner = f"step {step.name}"
    if ctx.cancelled.is_set():
        raise StepCancelled(f"{owner}: the run was cancelled before it started")
    image_id, image_digest = resolve_image(ctx.client, image_id or image)
    script = build_script(step.commands)
    digest = commands_digest(script)
    environment = {**step.environment, **secret_env(owner, step.secrets, secrets)}
    limits = sandbox.limits(owner, step)
    confined = sandbox.container_options(owner, step, image_user(ctx.client, image_id), ctx.network)
    workspace = {str(ctx.workspace): {"bind": WORKSPACE, "mode": "rw"}}
    mark = probe_mark()
    probe = ProbeReader(log, mark)
    try:
        container = ctx.client.containers.create(
            image_id,  # the id, not the tag: what runs is what was resolved
            environment=environment,
            working_dir=WORKSPACE,
            labels=object_labels(ctx.labels, ctx.run_id, **{STEP_LABEL: step.name}),
            **{**confined, "volumes": {**confined.get("volumes", {}), **workspace}},
            **(probed_command(script, mark) if script else {}),
        )
    except docker.errors.APIError as exc:
        raise StepFailed(f"{owner}: container not created: {exc.explanation}") from None
    try:
        started = time.monotonic()
        container.start()
        on_started(image, image_digest, digest)
        watchdog = _Watchdog(container, ctx.cancelled, started + timeout, _pids_events(container))
        watchdog.start()
        removed_while_cancelled = False
        try:
            exit_code = _follow(container, probe)
        except docker.errors.NotFound:
            if not ctx.cancelled.is_set():
                raise StepFailed(
                    f"step {step.name}: its container was removed while it ran"
                ) from None
            exit_code, removed_while_cancelled = 137, True
        finally:
            watchdog.finished.set()
            watchdog.join()
        duration_ms = int((time.monotonic() - started) * 1000)
        if not engine_answers(ctx.client):
            # A stopping dockerd kills the container and still answers on the connections
            # it has: the exit code seen may be the engine's doing, not the step's.
            raise EngineStopped(f"step {step.name}: the Docker engine stopped while it ran")
        reason = _why_stopped(container, watchdog, limits, timeout, probe.refused)
        if reason is not None and exit_code == 0:
            exit_code = 1  # it hit a limit, and carried on as if it had not
    finally:
        _remove(container)
    if reason is not None:
        log(f"shiplog: {reason}")
    return CommandOutcome(
        exit_code=exit_code,
        duration_ms=duration_ms,
        timed_out=watchdog.timed_out,
        cancelled=watchdog.cancelled or removed_while_cancelled,
        image=image,
        image_digest=image_digest,
        commands_digest=digest,
        reason=reason,
    )


def _pids_events(container: Any) -> Path | None:
    """The running container's pids.events file, if this host shows it."""
    try:
        container.reload()
    except docker.errors.APIError:
        return None
    pid = int((container.attrs.get("State") or {}).get("Pid") or 0)
    return pids_events_file(pid) if pid > 0 else None


def _why_stopped(
    container: Any, watchdog: _Watchdog, limits: Limits, timeout: float, refused: int
) -> str | None:
    """Why the sandbox ended the container early (or failed it), in words; None if it did not."""
    if watchdog.timed_out:
        return f"timed out: stopped after its timeout of {timeout:g} s"
    if watchdog.out_of_processes or refused:
        stopped = " and was stopped" if watchdog.out_of_processes else ""
        return (
            f"out of processes: it reached its limit of {limits.pids} processes "
            f"(resources.pids){stopped}"
        )
    try:
        container.reload()
    except docker.errors.APIError:
        return None
    if (container.attrs.get("State") or {}).get("OOMKilled"):
        return (
            f"out of memory: it exceeded its limit of {limits.describe_memory()} "
            "(resources.memory) and was killed"
        )
    return None


def _follow(container: Any, log: LogSink) -> int:
    """Stream the container's merged output to `log` line by line; return its exit code.

    A followed json-file log can end without the last line when that line has no newline
    and the engine is busy (seen on 20.10), so once the container has exited the last
    few log entries are read again and whatever the stream missed is sent too.
    """
    lines = LineSplitter(log)
    received = bytearray()
    stream = container.logs(stream=True, follow=True, stdout=True, stderr=True)
    try:
        for chunk in stream:
            lines.feed(chunk)
            received += chunk
            del received[:-TAIL_BYTES]
    finally:
        stream.close()
    exit_code = int(container.wait()["StatusCode"])
    last = container.logs(stdout=True, stderr=True, tail=TAIL_ENTRIES)
    lines.feed(missed_tail(bytes(received), last))
    lines.flush()
    return exit_code


def _remove(container: Any) -> bool:
    """Force-remove a container (and its anonymous volumes); False when it was already gone."""
    try:
        container.remove(force=True, v=True)
    except docker.errors.NotFound:
        return False
    return True


def cleanup_run(client: Any, run_id: str) -> int:
    """Force-remove every container, network and volume of the run; return how many were removed.

    A built image carries the run's label, and so does every container made from it;
    the tasks of a swarm service delivered from such an image are the service's, and stay.
    """
    selector = {"label": f"{RUN_LABEL}={run_id}"}
    containers = client.containers.list(all=True, filters=selector)
    removed = sum(_remove(c) for c in containers if SWARM_TASK_LABEL not in c.labels)
    for network in client.networks.list(filters=selector):
        removed += remove_network(network)
    for volume in client.volumes.list(filters=selector):
        try:
            volume.remove(force=True)
            removed += 1
        except docker.errors.NotFound:
            pass
    return removed


def remove_network(network: Any, attempts: int = 20) -> int:
    """Remove a network, first disconnecting whatever is still attached to it."""
    last: docker.errors.APIError | None = None
    for _ in range(attempts):
        try:
            network.reload()
            for container_id in network.attrs.get("Containers") or {}:
                with contextlib.suppress(docker.errors.APIError):
                    network.disconnect(container_id, force=True)
            network.remove()
            return 1
        except docker.errors.NotFound:
            return 0
        except docker.errors.APIError as exc:  # endpoints still being released
            last = exc
            time.sleep(0.1)
    raise StepFailed(f"network {network.name} could not be removed: {last}")


def step_container_running(client: Any, run_id: str) -> bool:
    """Whether any step container of the run is running."""
    selector = {"label": [f"{RUN_LABEL}={run_id}", STEP_LABEL], "status": "running"}
    return bool(client.containers.list(filters=selector))
