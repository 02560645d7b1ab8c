"""Build steps: resolve the inputs (bases, Dockerfile, context, args), label, build, tag.

Every external base image is resolved to a digest before the build, and must already be
on the engine (`pull=False`). A build that reads secrets (`build.secrets`) runs on
BuildKit with secret mounts (buildkit.py), and the Dockerfile must mount each of them;
any other build runs on the engine's builder through the SDK. Secret values never go
into what is returned, and are masked in the build output. Build arguments taken from
secrets are refused: they would stay in the image's history.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import docker.errors
from docker.utils import parse_repository_tag

from app.executor.actions.build_request import BuildRequest
from app.executor.actions.buildkit import buildkit_build, buildkit_cli
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
    secret_mounts,
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
    secret_mounts: tuple[str, ...]
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
    docker_cli: str | None = None,
) -> BuiltImage:
    """Build the step's image from the workspace with resolved bases, label and tag it.

    A reproduction (app/reproduce/) rebuilds with `nocache` (every instruction runs
    again) and without `apply_tags`: the image is left untagged, so the step's tags
    keep naming the original; the labels and the returned `tags` are the step's still.
    `secrets` must hold every secret of `build.secrets`; `docker_cli` is the docker
    command BuildKit builds run with (default: found on PATH).
    """
    spec = step.build
    if ctx.cancelled.is_set():
        raise StepCancelled(f"step {step.name}: the run was cancelled before it started")
    context = inside(ctx.workspace, spec.context, "build context")
    dockerfile = inside(ctx.workspace, f"{spec.context}/{spec.dockerfile}", "Dockerfile")
    if not dockerfile.is_file():
        raise StepFailed(f"Dockerfile {spec.context}/{spec.dockerfile} is not a file")
    plain = _plain_args(spec.args)
    mounted = _mounted_secrets(spec.secrets, secrets)
    mask = Masker(mounted.values())
    with context_archive(context, spec.dockerfile) as archive:
        # what was sent is what is recorded, even if a parallel step changes the workspace
        dockerfile_bytes = archive_file(archive, spec.dockerfile) or dockerfile.read_bytes()
        bases, final = _resolve_bases(ctx.client, dockerfile_bytes, plain, spec.target, mask)
        labels = oci_labels(source, ctx.run_id, spec.tags, final and final[0], spec.labels)
        digest = digest_entries(archive_entries(archive))
        request = BuildRequest(
            archive=archive,
            dockerfile=spec.dockerfile,
            tag=spec.tags[0] if apply_tags else None,
            buildargs=plain,
            labels=labels,
            target=spec.target,
            deadline=time.monotonic() + step.timeout,
            log=lambda line: log(mask(line)),
            mask=mask,
            nocache=nocache,
            secrets=mounted,
        )
        if mounted:
            _check_mounted(dockerfile_bytes, spec.dockerfile, mounted)
            image_id = buildkit_build(ctx, request, cli=buildkit_cli(docker_cli))
        else:
            image_id = _build(ctx, request)
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
        secret_mounts=tuple(sorted(mounted)),
        target=spec.target,
        labels=labels,
        tags=tuple(spec.tags),
    )


def _plain_args(args: Mapping[str, str | FromSecret]) -> dict[str, str]:
    """The build arguments; one taken from a secret is refused (it would stay in the image)."""
    plain: dict[str, str] = {}
    for name, value in args.items():
        if not isinstance(value, str):
            raise StepFailed(
                f"build argument {name}: a secret build argument stays in the image's "
                f"history; mount secret {value.from_secret} instead (build.secrets)"
            )
        plain[name] = value
    return plain


def _mounted_secrets(names: tuple[str, ...], secrets: Mapping[str, str]) -> dict[str, str]:
    """The values of the secrets the build mounts; StepFailed naming any not provided."""
    missing = [name for name in names if name not in secrets]
    if missing:
        raise StepFailed(f"build.secrets: secret(s) not provided: {', '.join(missing)}")
    return {name: secrets[name] for name in names}


def _check_mounted(dockerfile: bytes, path: str, mounted: Mapping[str, str]) -> None:
    """Every secret given to the build is read by a `RUN --mount=type=secret` of the Dockerfile."""
    try:
        used = secret_mounts(dockerfile.decode("utf-8-sig", "replace"))
    except DockerfileError as exc:
        raise StepFailed(f"Dockerfile: {exc}") from None
    unused = sorted(set(mounted) - set(used))
    if unused:
        raise StepFailed(
            f"build.secrets: {path} has no `RUN --mount=type=secret,id=NAME` for "
            f"{', '.join(unused)}; a secret reaches a build only through such a mount"
        )


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


def _build(ctx: RunContext, request: BuildRequest) -> str:
    """Run the legacy builder on the context archive, streaming its output; return the image id."""
    watchdog = _BuildWatchdog(ctx.client, ctx.cancelled, request.deadline)

    def line(text: str) -> None:
        match = _RUNNING_IN.search(text)
        if match:
            watchdog.running_in = match.group(1)
        request.log(text)

    lines = LineSplitter(line)
    error: str | None = None
    image_id: str | None = None
    watchdog.start()
    try:
        for chunk in ctx.client.api.build(
            fileobj=request.archive,
            custom_context=True,
            dockerfile=request.dockerfile,
            tag=request.tag,
            buildargs=dict(request.buildargs),
            labels=dict(request.labels),
            target=request.target,
            rm=True,
            forcerm=True,
            nocache=request.nocache,
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
        raise StepFailed(f"build failed: {request.mask(error.strip())}")
    if image_id is None and request.tag is None:
        raise StepFailed("build failed: the engine did not say which image it built")
    return image_id or str(ctx.client.images.get(request.tag).id)


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
