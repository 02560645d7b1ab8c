"""What to reproduce: an image's build (ImageBuilt) and its run's RunQueued, from the run's stream.

Which run built an image named by digest is a question for the read side
(app/services/reproductions.py asks app/queries/reproductions.py); here a run's
own stream gives the recorded inputs, and the engine tells pushed images apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import docker.errors

from events.store import EventStore
from events.vocabulary import ImageBuilt, RunQueued


class ReproductionError(Exception):
    """What was asked cannot be reproduced at all (no such run, image or step): a user error."""


@dataclass(frozen=True)
class Subject:
    """One image to reproduce: how it was asked for, its run, and the inputs the run recorded."""

    asked: str
    run_id: str
    queued: RunQueued
    built: ImageBuilt


def of_run(store: EventStore, run_id: str, asked: str, step: str | None) -> list[Subject]:
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


def local_image_id(client: Any, reference: str) -> str | None:
    """The id of the local image `reference` names, if the engine has it."""
    try:
        return str(client.images.get(reference).id)
    except (docker.errors.ImageNotFound, docker.errors.APIError):
        return None
