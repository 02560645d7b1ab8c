"""Reproducing historical builds: find what a run id or an image digest names, rebuild, record.

A digest is turned into an image id by the images projection (an image id stays
itself, a pushed manifest digest becomes the image pushed), whose build is then
looked up in the runs projection; a digest pushed without a known image falls
back to the run's pushes and the engine's RepoDigests. The caller catches the
projections up first. Each reproduction is recorded by app/reproduce/reproducer.py
in its own stream `repro-<uuid>`, as the actor.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from app.queries.reproductions import first_build, first_push
from app.reproduce.inputs import ReproductionError, Subject, local_image_id, of_run
from app.reproduce.reproducer import Reproducer, Reproduction
from events.catalogue import Metadata
from events.store import EventStore

_DIGEST = re.compile(r"(sha256:)?([0-9a-f]{64})")


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
        return of_run(store, run_id, run_id, step)
    match = _DIGEST.fullmatch(target)
    if match is None:
        raise ReproductionError(
            f"{target!r} is neither a run id (a uuid) nor an image digest (sha256:<64 hex digits>)"
        )
    return [_of_digest(store, client, "sha256:" + match.group(2), step)]


def _of_digest(store: EventStore, client: Any, digest: str, step: str | None) -> Subject:
    """The build an image id or a pushed manifest digest came from (the earliest, if several)."""
    built = first_build(store, digest)
    if built is not None:
        assert built.step is not None
        if step is not None and step != built.step:
            raise ReproductionError(
                f"image {digest} was built by step {built.step!r}, not {step!r}"
            )
        for subject in of_run(store, built.run_id, digest, built.step):
            if subject.built.image_id == built.image_id:
                return subject
        raise ReproductionError(
            f"the runs projection says run {built.run_id} built {built.image_id}, but its "
            "stream does not: rebuild the projection (`shiplog projections rebuild runs`)"
        )
    pushed = first_push(store, digest)
    if pushed is None:
        raise ReproductionError(
            f"no run in the ledger built or pushed an image with the digest {digest}"
        )
    # Pushed, but the push could not be tied to one of the run's images: ask the engine.
    candidates = of_run(store, pushed.run_id, digest, step)
    if len(candidates) == 1:
        return candidates[0]
    local = local_image_id(client, f"{pushed.repository}@{digest}")
    for subject in candidates:
        if subject.built.image_id == local:
            return subject
    raise ReproductionError(
        f"{digest} was pushed by run {pushed.run_id}, which built several images, and this "
        "engine cannot tell which one it is: name the image by its image id, or pass --step"
    )


def reproduce(
    store: EventStore,
    client: Any,
    work_dir: Path,
    subject: Subject,
    actor: str,
    *,
    source: str = "cli",
    keep: bool = False,
) -> Reproduction:
    """Rebuild `subject`'s image from its recorded inputs, compare, and record the verdict."""
    reproducer = Reproducer(store, client, work_dir)
    return reproducer.reproduce(subject, Metadata(actor=actor, source=source), keep=keep)
