"""Build steps: resolve the inputs (bases, Dockerfile, context, args), label, build, tag.

Every external base image is resolved to a digest before the build, and must already be
on the engine (`pull=False`). Secret build arguments go to the engine but never into
what is returned or logged: their values are masked in the build output.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import IO, Any

import docker.errors
from docker.utils import parse_repository_tag

from app.executor.actions.containers import POLL_SECONDS, RunContext
from app.executor.actions.context_digest import (
    archive_entries,
    archive_file,
    context_archive,
    digest_entries,
)
from app.executor.actions.dockerfile import (
    DockerfileError,
    Stage,
    parse_stages,
    root_base,
    stages_to_build,
)
from app.executor.actions.errors import StepCancelled, StepFailed, StepTimedOut
from app.executor.actions.labels import SourceFacts, oci_labels
from app.executor.actions.masking import Masker
from app.executor.actions.support import LineSplitter, LogSink, inside, resolve_image
from app.pipeline import BuildStep, FromSecret
from events.vocabulary import BaseImage

__all__ = ["BuiltImage", "SourceFacts", "run_build_step"]

_RUNNING_IN = re.compile(r"---> Running in ([0-9a-f]{12,64})")


@dataclass(frozen=True)
class BuiltImage:
    """What a build step produced and from what: the ImageBuilt fields except `step`."""

    image_id: str
    base_images: tuple[BaseImage, ...]
    dockerfile_sha256: str
    context_digest: str
    build_args: dict[str, str]
    secret_args: tuple[str, ...]
    target: str | None
    labels: dict[str, str]
    tags: tuple[str, ...]

    def as_event_fields(self) -> dict[str, Any]:
        """Keyword arguments for `ImageBuilt` (add `step`)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def run_build_step(
    ctx: RunContext,
    step: BuildStep,
    *,
    source: SourceFacts,
    secrets: Mapping[str, str],
    log: LogSink,
    nocache: bool = False,
    apply_tags: bool = True,
) -> BuiltImage:
    """Build the step's image from the workspace with resolved bases, label and tag it.

    A reproduction (app/reproduce/) rebuilds with `nocache` (every instruction runs
    again) and without `apply_tags`: the image is left untagged, so the step's tags
    keep naming the original; the labels and the returned `tags` are the step's still.
    """
    spec = step.build
    if ctx.cancelled.is_set():
        raise StepCancelled(f"step {step.name}: the run was cancelled before it started")
    context = inside(ctx.workspace, spec.context, "build context")
    dockerfile = inside(ctx.workspace, f"{spec.context}/{spec.dockerfile}", "Dockerfile")
    if not dockerfile.is_file():
        raise StepFailed(f"Dockerfile {spec.context}/{spec.dockerfile} is not a file")
    plain, hidden = _split_args(spec.args, secrets)
    mask = Masker(hidden.values())
    with context_archive(context, spec.dockerfile) as archive:
        # what was sent is what is recorded, even if a parallel step changes the workspace
        dockerfile_bytes = archive_file(archive, spec.dockerfile) or dockerfile.read_bytes()
        bases, final = _resolve_bases(
            ctx.client, dockerfile_bytes, {**plain, **hidden}, spec.target, mask
        )
        labels = oci_labels(source, ctx.run_id, spec.tags, final and final[0], spec.labels)
        digest = digest_entries(archive_entries(archive))
        image_id = _build(
            ctx,
            archive=archive,
            dockerfile=spec.dockerfile,
            tag=spec.tags[0] if apply_tags else None,
            buildargs={**plain, **hidden},
            labels=labels,
            target=spec.target,
            deadline=time.monotonic() + step.timeout,
            log=lambda line: log(mask(line)),
            mask=mask,
            nocache=nocache,
        )
    if final is not None:
        _check_base_kept(ctx.client, image_id, *final)
    for tag in spec.tags[1:] if apply_tags else ():
        repository, name = parse_repository_tag(tag)
        ctx.client.api.tag(image_id, repository, name or "latest", force=True)
    return BuiltImage(
        image_id=image_id,
        base_images=bases,
        dockerfile_sha256=hashlib.sha256(dockerfile_bytes).hexdigest(),
        context_digest=digest,
        build_args=plain,
        secret_args=tuple(sorted(hidden)),
        target=spec.target,
        labels=labels,
        tags=tuple(spec.tags),
    )


def _split_args(
    args: Mapping[str, str | FromSecret], secrets: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The plain build arguments, and the secret ones with their values."""
    plain: dict[str, str] = {}
    hidden: dict[str, str] = {}
    for name, value in args.items():
        if isinstance(value, str):
            plain[name] = value
        elif value.from_secret in secrets:
            hidden[name] = secrets[value.from_secret]
        else:
            raise StepFailed(f"build argument {name}: secret {value.from_secret} not provided")
    return plain, hidden


def _resolve_bases(
    client: Any, dockerfile: bytes, args: Mapping[str, str], target: str | None, mask: Masker
) -> tuple[tuple[BaseImage, ...], tuple[BaseImage, str] | None]:
    """Every external base of the stages built, resolved; and the final stage's, with its id."""
    try:
        stages = stages_to_build(
            parse_stages(dockerfile.decode("utf-8-sig", "replace"), args), target
        )
    except DockerfileError as exc:
        raise StepFailed(f"Dockerfile: {mask(str(exc))}") from None
    resolved: dict[str, tuple[BaseImage, str]] = {}
    for stage in stages:
        if stage.external and stage.base not in resolved:
            if mask(stage.base) != stage.base:
                raise StepFailed(
                    f"Dockerfile line {stage.line}: FROM must not use a secret build argument"
                )
            try:
                image_id, digest = resolve_image(client, stage.base)
            except StepFailed as exc:
                raise StepFailed(f"Dockerfile line {stage.line}: base image: {exc}") from None
            resolved[stage.base] = (BaseImage(name=stage.base, digest=digest), image_id)
    final: Stage = root_base(stages, stages[-1])
    bases = tuple(base for base, _ in resolved.values())
    return bases, resolved[final.base] if final.external else None


class _BuildWatchdog(threading.Thread):
    """On cancellation or timeout, kills the container of the RUN instruction being built."""

    def __init__(self, client: Any, cancelled: threading.Event, deadline: float) -> None:
        super().__init__(name="shiplog-build-watchdog", daemon=True)
        self.client = client
        self.cancel_event = cancelled
        self.deadline = deadline
        self.finished = threading.Event()
        self.running_in: str | None = None
        self.reason: str | None = None
        self._killed: set[str] = set()

    def run(self) -> None:
        while not self.finished.wait(POLL_SECONDS):
            if self.reason is None and self.cancel_event.is_set():
                self.reason = "cancelled"
            elif self.reason is None and time.monotonic() >= self.deadline:
                self.reason = "timed out"
            current = self.running_in
            if self.reason and current and current not in self._killed:
                self._killed.add(current)
                with contextlib.suppress(docker.errors.APIError):  # it ended already
                    self.client.api.kill(current)


def _build(
    ctx: RunContext,
    *,
    archive: IO[bytes],
    dockerfile: str,
    tag: str | None,
    buildargs: dict[str, str],
    labels: dict[str, str],
    target: str | None,
    deadline: float,
    log: LogSink,
    mask: Masker,
    nocache: bool = False,
) -> str:
    """Run the legacy builder on the context archive, streaming its output; return the image id."""
    watchdog = _BuildWatchdog(ctx.client, ctx.cancelled, deadline)

    def line(text: str) -> None:
        match = _RUNNING_IN.search(text)
        if match:
            watchdog.running_in = match.group(1)
        log(text)

    lines = LineSplitter(line)
    error: str | None = None
    image_id: str | None = None
    watchdog.start()
    try:
        for chunk in ctx.client.api.build(
            fileobj=archive,
            custom_context=True,
            dockerfile=dockerfile,
            tag=tag,
            buildargs=buildargs,
            labels=labels,
            target=target,
            rm=True,
            forcerm=True,
            nocache=nocache,
            pull=False,
            decode=True,
        ):
            if "stream" in chunk:
                lines.feed(str(chunk["stream"]))
            elif "error" in chunk:
                error = str((chunk.get("errorDetail") or {}).get("message") or chunk["error"])
            elif isinstance(chunk.get("aux"), dict) and "ID" in chunk["aux"]:
                image_id = str(chunk["aux"]["ID"])
            elif "status" in chunk:
                lines.feed(f"{chunk['status']}\n")
    except docker.errors.APIError as exc:
        error = str(exc.explanation or exc)
    finally:
        watchdog.finished.set()
        watchdog.join()
        lines.flush()
    if watchdog.reason == "cancelled":
        raise StepCancelled("build stopped: the run was cancelled")
    if watchdog.reason == "timed out":
        raise StepTimedOut("build stopped: it ran longer than the step's timeout")
    if error is not None:
        raise StepFailed(f"build failed: {mask(error.strip())}")
    if image_id is None and tag is None:
        raise StepFailed("build failed: the engine did not say which image it built")
    return image_id or str(ctx.client.images.get(tag).id)


def _check_base_kept(client: Any, image_id: str, base: BaseImage, base_id: str) -> None:
    """The image's layers start with those of the base resolved before the build.

    The legacy builder looks the base up by name again; if the name moved to another
    image meanwhile, the recorded base digest would be wrong, so the build fails.
    """
    built = client.images.get(image_id).attrs["RootFS"].get("Layers") or []
    try:
        wanted = client.images.get(base_id).attrs["RootFS"].get("Layers") or []
    except docker.errors.ImageNotFound:
        wanted = None
    if wanted is None or built[: len(wanted)] != wanted:
        raise StepFailed(f"base image {base.name} changed on the engine during the build")
