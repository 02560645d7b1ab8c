"""Helpers the actions share: labels, image resolution, secret masking, log line splitting."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import docker.errors
from docker.utils import parse_repository_tag

from app.executor.actions.errors import StepFailed

LogSink = Callable[[str], None]
"""Receives one line of output at a time, without its newline."""

RUN_LABEL = "dev.shiplog.run"
SWARM_TASK_LABEL = "com.docker.swarm.task.id"
"""Set by Swarm on a service's containers: they belong to the service, not to a run."""
STEP_LABEL = "dev.shiplog.step"
SERVICE_LABEL = "dev.shiplog.service"
RESERVED_LABEL_PREFIX = "dev.shiplog."
MAX_LINE = 64 * 1024
"""Longer output without a newline is cut into lines of this many characters."""

_HUB_PREFIXES = ("docker.io/", "index.docker.io/", "registry-1.docker.io/")


def repository_of(ref: str) -> str:
    """The repository of an image reference; Docker Hub names normalized (`library/x` is `x`)."""
    repository = str(parse_repository_tag(ref)[0])
    for prefix in _HUB_PREFIXES:
        if repository.startswith(prefix):
            repository = repository[len(prefix) :]
            break
    return repository.removeprefix("library/")


def resolve_image(client: Any, ref: str) -> tuple[str, str]:
    """The local image `ref` names, as (image id, digest).

    The digest is the image's RepoDigest for the repository of `ref` (or the digest `ref`
    pins), else the image id. Images are never pulled: a missing one raises StepFailed.
    """
    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        raise StepFailed(
            f"image {ref} is not on this Docker engine; shiplog never pulls images, "
            "so build it in an earlier step or load it onto the runner's engine first"
        ) from None
    except docker.errors.APIError as exc:
        raise StepFailed(f"cannot inspect image {ref}: {exc.explanation or exc}") from None
    image_id = str(image.id)
    _, pinned = parse_repository_tag(ref)
    if pinned is not None and pinned.startswith("sha256:"):
        return image_id, pinned
    wanted = repository_of(ref)
    for repo_digest in image.attrs.get("RepoDigests") or ():
        name, _, digest = str(repo_digest).partition("@")
        if digest and repository_of(name) == wanted:
            return image_id, digest
    return image_id, image_id


def inside(workspace: Path, relative: str, what: str) -> Path:
    """`workspace/relative`, refused (StepFailed) if it resolves outside the workspace."""
    root = workspace.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise StepFailed(f"{what} {relative!r} leads outside the workspace")
    return path


def object_labels(labels: Mapping[str, str], run_id: str, **extra: str) -> dict[str, str]:
    """Labels for a container or network of a run: the run's labels, the run id, then `extra`."""
    return {**labels, RUN_LABEL: run_id, **extra}


def secret_env(owner: str, names: Iterable[str], secrets: Mapping[str, str]) -> dict[str, str]:
    """The secrets `names` asks for, as environment variables; a missing one fails the step."""
    missing = [name for name in names if name not in secrets]
    if missing:
        raise StepFailed(f"{owner}: secret(s) not provided to the runner: {', '.join(missing)}")
    return {name: secrets[name] for name in names}


class LineSplitter:
    """Turns chunks of output (bytes or text) into lines for a sink; call `flush` at the end.

    Bytes are decoded as UTF-8 with replacement, across chunk boundaries. Lines are split
    on `\\n` (a `\\r` before it is dropped); a partial last line is sent by `flush`.
    """

    def __init__(self, emit: Callable[[str], None], max_line: int = MAX_LINE) -> None:
        self._emit = emit
        self._max_line = max_line
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, chunk: bytes | str) -> None:
        """Add output; every complete line in it goes to the sink."""
        text = self._decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        if not text:
            return
        *complete, self._pending = (self._pending + text).split("\n")
        for line in complete:
            self._send(line.removesuffix("\r"))
        while len(self._pending) > self._max_line:
            self._send(self._pending[: self._max_line])
            self._pending = self._pending[self._max_line :]

    def flush(self) -> None:
        """Send what is left (a last line without a newline), if anything."""
        self._pending += self._decoder.decode(b"", final=True)
        if self._pending:
            self._send(self._pending.removesuffix("\r"))
        self._pending = ""

    def _send(self, line: str) -> None:
        self._emit(line)


def missed_tail(received: bytes, last: bytes) -> bytes:
    """The end of `last` (the log's final entries) that `received` does not already end with."""
    if not received:
        return last
    for end in range(len(last), 0, -1):
        if last[end - 1] == received[-1] and received.endswith(last[:end]):
            return last[end:]
    return last
