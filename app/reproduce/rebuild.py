"""Rebuilding a recorded image: check what the ledger cannot supply, check out, build again.

The rebuild goes through the build step's own code (`run_build_step`), so it gets the
same labels, build arguments and base resolution as the original did; only `nocache`
(every instruction runs again) and no tagging (the step's tags keep naming the
original) set it apart.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import docker.errors

from app.executor.actions import StepFailed
from app.executor.actions.build import BuiltImage, SourceFacts, run_build_step
from app.executor.actions.containers import RunContext
from app.executor.actions.support import repository_of, resolve_image
from app.executor.source import SourceError, prepare_workspace, read_file_at
from app.pipeline import BuildStep, PipelineError, parse_pipeline, pipeline_digest
from app.reproduce.inputs import Subject
from events.vocabulary import BaseImage, ImageBuilt


class CannotReproduce(Exception):
    """The recorded inputs cannot be had again (or the rebuild failed); the message says why."""


def source_date_epoch(subject: Subject) -> int | None:
    """The commit's time as seconds since 1970, from RunQueued; None if it was not recorded."""
    moment = subject.queued.commit_time
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def check_recorded(subject: Subject) -> None:
    """Refuse what the ledger does not hold: uncommitted changes, secrets the build read."""
    if subject.queued.dirty:
        raise CannotReproduce(
            f"run {subject.run_id} built uncommitted changes (a dirty checkout), "
            "which the ledger does not hold"
        )
    if subject.built.secret_args:
        names = ", ".join(subject.built.secret_args)
        raise CannotReproduce(
            f"the build argument(s) {names} came from secrets, whose values the ledger "
            "never records"
        )
    if subject.built.secret_mounts:
        names = ", ".join(subject.built.secret_mounts)
        raise CannotReproduce(
            f"the build read the secret(s) {names} through secret mounts, whose values the "
            "ledger never records"
        )


def check_bases(client: Any, bases: tuple[BaseImage, ...]) -> None:
    """Every recorded base is on the engine by its digest, and its name still leads to it."""
    for base in bases:
        wanted = _image_with_digest(client, base)
        if wanted is None:
            raise CannotReproduce(
                f"base image {base.name}@{base.digest} is no longer available on this engine"
            )
        try:
            current, _ = resolve_image(client, base.name)
        except StepFailed:
            current = None
        if current != wanted:
            raise CannotReproduce(
                f"base image {base.name} names {current or 'no image'} now, not the recorded "
                f"{base.name}@{base.digest} (image {wanted}); the builder takes FROM by name, "
                f"so tag that image {base.name} again to reproduce"
            )


def _image_with_digest(client: Any, base: BaseImage) -> str | None:
    """The id of the local image the recorded digest (an image id or a registry digest) names."""
    for reference in (base.digest, f"{repository_of(base.name)}@{base.digest}"):
        try:
            image = client.images.get(reference)
        except (docker.errors.ImageNotFound, docker.errors.APIError):
            continue
        if reference != base.digest or str(image.id) == base.digest:
            return str(image.id)
    return None


def check_out(subject: Subject, workspace: Path) -> None:
    """Clone the recorded commit into `workspace` (from the checkout, else the repository)."""
    queued = subject.queued
    sources = [s for s in (queued.checkout, queued.repository) if s]
    problems: list[str] = []
    for source in dict.fromkeys(sources):
        try:
            prepare_workspace(
                None, clone_from=source, commit=queued.commit, workspace=workspace, dirty=False
            )
        except SourceError as exc:
            problems.append(str(exc))
            _empty(workspace)
            continue
        return
    raise CannotReproduce(f"commit {queued.commit} cannot be checked out: {'; '.join(problems)}")


def _empty(directory: Path) -> None:
    """Remove what a failed clone left, so the next attempt finds an empty directory."""
    if directory.exists():
        shutil.rmtree(directory)


def set_times(workspace: Path, epoch: int | None) -> None:
    """Give every file and directory of the checkout `epoch` as its times (not through links)."""
    if epoch is None:
        return
    for directory, dirs, files in os.walk(workspace, topdown=False):
        for name in [*files, *dirs]:
            os.utime(os.path.join(directory, name), (epoch, epoch), follow_symlinks=False)
    os.utime(workspace, (epoch, epoch))


def build_step(subject: Subject, workspace: Path) -> tuple[BuildStep, str]:
    """The step that built the image (from the pipeline file at the commit), the pipeline name."""
    queued = subject.queued
    try:
        text = read_file_at(workspace, queued.pipeline_path)
    except SourceError as exc:
        raise CannotReproduce(f"the pipeline file at the commit: {exc}") from None
    if pipeline_digest(text) != queued.pipeline_digest:
        raise CannotReproduce(
            f"{queued.pipeline_path} at {queued.commit[:12]} is not the file the run recorded"
        )
    try:
        pipeline = parse_pipeline(text.decode("utf-8", "replace"), queued.pipeline_path)
    except PipelineError as exc:
        raise CannotReproduce(
            f"the pipeline at the commit no longer passes the checks: {exc}"
        ) from None
    try:
        step = pipeline.step(subject.built.step)
    except KeyError:
        step = None
    if not isinstance(step, BuildStep):
        raise CannotReproduce(f"{queued.pipeline_path} has no build step {subject.built.step!r}")
    return step, pipeline.name


def rebuild(
    client: Any, subject: Subject, workspace: Path, log: Callable[[str], None]
) -> BuiltImage:
    """Build the step again in `workspace` (checked out), as the run did, without cache or tags."""
    step, pipeline_name = build_step(subject, workspace)
    facts = SourceFacts.of_run(subject.queued, pipeline_name)
    ctx = RunContext(
        client=client,
        run_id=subject.run_id,  # the run's own id: its label is part of the recorded inputs
        workspace=workspace,
        network="",
        labels={},
        cancelled=threading.Event(),
    )
    try:
        return run_build_step(
            ctx, step, source=facts, secrets={}, log=log, nocache=True, apply_tags=False
        )
    except StepFailed as exc:
        raise CannotReproduce(f"the rebuild failed: {exc}") from None


def input_mismatches(recorded: ImageBuilt, rebuilt: BuiltImage) -> list[str]:
    """The recorded inputs the rebuild did not get exactly (it then proves nothing)."""
    checks = {
        "Dockerfile": (recorded.dockerfile_sha256, rebuilt.dockerfile_sha256),
        "build context": (recorded.context_digest, rebuilt.context_digest),
        "build arguments": (recorded.build_args, rebuilt.build_args),
        "target": (recorded.target, rebuilt.target),
    }
    found = [name for name, (before, after) in checks.items() if before != after]
    labels = sorted(
        key
        for key in recorded.labels.keys() | rebuilt.labels.keys()
        if recorded.labels.get(key) != rebuilt.labels.get(key)
    )
    if labels:
        found.append(f"labels ({', '.join(labels)})")
    return found
