"""Builds that read secrets: BuildKit through the docker command line, with secret mounts.

The engine's legacy builder (what the SDK drives) can only pass secrets as build
arguments, which stay in the image's history and config. BuildKit secret mounts
(`RUN --mount=type=secret,id=NAME`) show a secret to one RUN instruction as the file
/run/secrets/NAME and keep it out of every layer, the history and the cache key; the
SDK cannot ask for them, the docker CLI can (`DOCKER_BUILDKIT=1 docker build --secret
id=NAME,env=VARIABLE`). Each value reaches the CLI in its environment only, never on
its command line. The context is the same archive the legacy builder would get, sent
on stdin, so what is recorded is what was built; it is gzipped on the way, since the
CLI recognises a plain tar on stdin only by its first 512 bytes, which a tar starting
with a PAX header (Python writes one for fractional modification times) does not pass.
"""

from __future__ import annotations

import functools
import gzip
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from app.executor.actions.build_request import BuildRequest
from app.executor.actions.containers import POLL_SECONDS, RunContext
from app.executor.actions.errors import StepCancelled, StepFailed, StepTimedOut
from app.executor.actions.support import LineSplitter, LogSink

_SECRET_VARIABLE = "SHIPLOG_BUILD_SECRET_{}"
_LAST_LINES = 5


@functools.lru_cache(maxsize=8)
def buildkit_cli(configured: str | None = None) -> str:
    """The docker command that builds with BuildKit: `configured`, else the first on PATH that can.

    Docker's own CLI before 23.0 has BuildKit built in (Debian's docker.io 20.10); later
    ones need the buildx plugin for it.
    """
    candidates = [configured] if configured else _docker_commands()
    for candidate in candidates:
        if _builds_with_buildkit(candidate):
            return candidate
    raise StepFailed(
        "build.secrets needs a docker command that builds with BuildKit (docker before 23.0, "
        "or with the buildx plugin); none found"
        + (f" at SHIPLOG_DOCKER_CLI={configured}" if configured else " on PATH")
    )


def _docker_commands() -> list[str]:
    """Every `docker` executable on PATH, in PATH order."""
    found: list[str] = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        path = shutil.which("docker", path=directory) if directory else None
        if path and path not in found:
            found.append(path)
    return found


def _builds_with_buildkit(command: str) -> bool:
    """Whether `command` is a docker CLI whose `build` can use BuildKit."""
    try:
        version = subprocess.run(
            [command, "version", "--format", "{{.Client.Version}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.strip()
        if version and version.split(".")[0].isdigit() and int(version.split(".")[0]) < 23:
            return True
        buildx = subprocess.run(
            [command, "buildx", "version"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return buildx.returncode == 0


def buildkit_build(ctx: RunContext, request: BuildRequest, *, cli: str) -> str:
    """Build the request's context with BuildKit, its secrets as secret mounts; the image id."""
    with tempfile.TemporaryDirectory(prefix="shiplog-buildkit-") as private:
        iidfile = Path(private) / "image-id"
        command = [cli, "build", "--progress=plain", "--iidfile", str(iidfile)]
        command += ["--file", request.dockerfile]
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith("SHIPLOG_")
        }
        environment["DOCKER_BUILDKIT"] = "1"
        for number, (name, value) in enumerate(sorted(request.secrets.items())):
            variable = _SECRET_VARIABLE.format(number)
            environment[variable] = value
            command += ["--secret", f"id={name},env={variable}"]
        for name, value in request.buildargs.items():
            command += ["--build-arg", f"{name}={value}"]
        for key, value in request.labels.items():
            command += ["--label", f"{key}={value}"]
        command += ["--target", request.target] if request.target else []
        command += ["--tag", request.tag] if request.tag else []
        command += ["--no-cache"] if request.nocache else []
        with (Path(private) / "context.tar.gz").open("w+b") as packed:
            request.archive.seek(0)
            with gzip.GzipFile(fileobj=packed, mode="wb", compresslevel=1, mtime=0) as zipped:
                shutil.copyfileobj(request.archive, zipped)
            request.archive.seek(0)
            packed.seek(0)
            tail = _run(ctx, [*command, "-"], environment, packed, request.deadline, request.log)
        if tail is not None:
            # The CLI ends with the error itself; the output before it is in the log.
            detail = next((request.mask(line) for line in reversed(tail) if line.strip()), "")
            detail = detail.removeprefix("ERROR: ").removeprefix("error: ") or "no output"
            raise StepFailed(f"build failed: {detail}")
        image_id = iidfile.read_text().strip() if iidfile.exists() else ""
    if not image_id:
        raise StepFailed("build failed: BuildKit did not say which image it built")
    return image_id


def _run(
    ctx: RunContext,
    command: list[str],
    environment: dict[str, str],
    archive: IO[bytes],
    deadline: float,
    log: LogSink,
) -> list[str] | None:
    """Run the CLI, streaming its lines to `log`; None on success, else its last lines."""
    recent: list[str] = []

    def line(text: str) -> None:
        recent.append(text)
        del recent[:-_LAST_LINES]
        log(text)

    try:
        process = subprocess.Popen(
            command,
            stdin=archive,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    except OSError as error:
        raise StepFailed(f"build failed: cannot run {command[0]}: {error.strerror}") from None
    stopped: list[str] = []
    finished = threading.Event()

    def watch() -> None:
        while not finished.wait(POLL_SECONDS):
            if ctx.cancelled.is_set() or time.monotonic() >= deadline:
                stopped.append("cancelled" if ctx.cancelled.is_set() else "timed out")
                process.terminate()  # the CLI ends its session, and BuildKit the build
                return

    watcher = threading.Thread(target=watch, name="shiplog-buildkit-watchdog", daemon=True)
    watcher.start()
    lines = LineSplitter(line)
    assert process.stdout is not None
    output = process.stdout.fileno()
    try:
        for chunk in iter(lambda: os.read(output, 65536), b""):
            lines.feed(chunk)
        lines.flush()
        code = process.wait()
    finally:
        finished.set()
        watcher.join()
        if process.poll() is None:
            process.kill()
            process.wait()
    if stopped == ["cancelled"]:
        raise StepCancelled("build stopped: the run was cancelled")
    if stopped:
        raise StepTimedOut("build stopped: it ran longer than the step's timeout")
    return None if code == 0 else recent
