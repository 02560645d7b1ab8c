"""What to reproduce: the ImageBuilt (and its run's RunQueued) a run id or an image digest names.

A digest is turned into an image id by the images projection (`image_id_for`: an
image id stays itself, a pushed manifest digest becomes the image pushed), whose
build is then looked up in the runs projection (proj_run_images_v1); a digest pushed
without a known image falls back to proj_run_pushes_v1 and the engine's RepoDigests.
The caller catches the projections up first.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import docker.errors

from app.projections.runs import RunsProjection
from app.queries.images import image_id_for
from events.projections import current_tables
from events.store import EventStore
from events.vocabulary import ImageBuilt, RunQueued

_DIGEST = re.compile(r"(sha256:)?([0-9a-f]{64})")


class ReproductionError(Exception):
    """What was asked cannot be reproduced at all (no such run, image or step): a user error."""


@dataclass(frozen=True)
class Subject:
    """One image to reproduce: how it was asked for, its run, and the inputs the run recorded."""

    asked: str
    run_id: str
    queued: RunQueued
    built: ImageBuilt


def subjects(
    store: EventStore, client: Any, target: str, *, step: str | None = None
) -> list[Subject]:
    """The images `target` (a run id or an image digest) names, each with its recorded inputs."""
    target = target.strip()
    try:
        run_id = str(uuid.UUID(target))
    except ValueError:
        run_id = None
    if run_id is not None:
        return _of_run(store, run_id, run_id, step)
    match = _DIGEST.fullmatch(target)
    if match is None:
        raise ReproductionError(
            f"{target!r} is neither a run id (a uuid) nor an image digest (sha256:<64 hex digits>)"
        )
    return [_of_digest(store, client, "sha256:" + match.group(2), step)]


def _of_run(store: EventStore, run_id: str, asked: str, step: str | None) -> list[Subject]:
    """Every image the run built (or the one `step` built), in the order they were built."""
    events = store.read_stream(f"run-{run_id}")
    queued = next((e.data for e in events if isinstance(e.data, RunQueued)), None)
    if queued is None:
        raise ReproductionError(f"no run {run_id} in the ledger")
    built = [e.data for e in events if isinstance(e.data, ImageBuilt)]
    if not built:
        raise ReproductionError(f"run {run_id} built no image")
    if step is not None:
        chosen = [image for image in built if image.step == step]
        if not chosen:
            steps = ", ".join(sorted({image.step for image in built}))
            raise ReproductionError(
                f"run {run_id} has no image built by a step named {step!r} (it built with: {steps})"
            )
        built = chosen
    return [Subject(asked=asked, run_id=run_id, queued=queued, built=image) for image in built]


def _of_digest(store: EventStore, client: Any, digest: str, step: str | None) -> Subject:
    """The build an image id or a pushed manifest digest came from (the earliest, if several)."""
    with store.connection() as conn:
        image_id = image_id_for(conn, digest) or digest  # a pushed digest names its image
        tables = current_tables(conn, RunsProjection())
        row = conn.execute(
            f"SELECT run_id, step FROM {tables['run_images']} WHERE image_id = %s "
            "ORDER BY position LIMIT 1",
            (image_id,),
        ).fetchone()
        pushed = None
        if row is None:
            pushed = conn.execute(
                f"SELECT run_id, repository FROM {tables['run_pushes']} "
                "WHERE digest = %s ORDER BY position LIMIT 1",
                (digest,),
            ).fetchone()
    if row is not None:
        run_id, built_by = str(row[0]), str(row[1])
        if step is not None and step != built_by:
            raise ReproductionError(f"image {digest} was built by step {built_by!r}, not {step!r}")
        for subject in _of_run(store, run_id, digest, built_by):
            if subject.built.image_id == image_id:
                return subject
        raise ReproductionError(
            f"the runs projection says run {run_id} built {image_id}, but its stream does not: "
            "rebuild the projection (`shiplog projections rebuild runs`)"
        )
    if pushed is None:
        raise ReproductionError(
            f"no run in the ledger built or pushed an image with the digest {digest}"
        )
    # Pushed, but the push could not be tied to one of the run's images: ask the engine.
    run_id, repository = str(pushed[0]), str(pushed[1])
    candidates = _of_run(store, run_id, digest, step)
    if len(candidates) == 1:
        return candidates[0]
    local = _local_image_id(client, f"{repository}@{digest}")
    for subject in candidates:
        if subject.built.image_id == local:
            return subject
    raise ReproductionError(
        f"{digest} was pushed by run {run_id}, which built several images, and this engine "
        "cannot tell which one it is: name the image by its image id, or pass --step"
    )


def _local_image_id(client: Any, reference: str) -> str | None:
    """The id of the local image `reference` names, if the engine has it."""
    try:
        return str(client.images.get(reference).id)
    except (docker.errors.ImageNotFound, docker.errors.APIError):
        return None
