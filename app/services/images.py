"""Pruning the images shiplog built from a Docker engine, recorded as ImagesPruned.

Built images are the product of runs, so they stay after a run ends. Over time an
engine fills with images nobody needs: `prune_images` removes each image labelled
`dev.shiplog.run` (built by a run) that no environment runs now, no run built since
`recent_since`, and no container uses; images shiplog did not build are never
touched. The ledger gains one ImagesPruned on the engine's stream and loses nothing:
every ImageBuilt, ImagePushed and provenance record of a removed image stays, so it
can still be explained and rebuilt (`shiplog reproduce`).
"""

from __future__ import annotations

import socket
from datetime import datetime
from typing import Any

import docker.errors

from app.executor.actions.support import RUN_LABEL
from app.queries.images import images_in_use
from events.catalogue import Metadata
from events.store import ANY, EventStore
from events.streams import stream_name
from events.vocabulary import ImagesPruned


def engine_stream(host: str | None = None) -> str:
    """The stream of what shiplog did to the Docker engine of `host` (this host by default)."""
    return stream_name("engine", (host or socket.gethostname()).lower())


def prune_images(
    store: EventStore, client: Any, *, recent_since: datetime, actor: Metadata
) -> ImagesPruned:
    """Remove the built images nothing needs (see the module docstring); record what went."""
    needed = images_in_use(store, recent_since)
    removed: list[str] = []
    kept = 0
    for image in client.images.list(filters={"label": RUN_LABEL}):
        if image.id in needed or client.containers.list(all=True, filters={"ancestor": image.id}):
            kept += 1
            continue
        try:
            client.images.remove(image.id, force=True)  # every tag of it
        except docker.errors.APIError:  # a container started on it meanwhile
            kept += 1
            continue
        removed.append(str(image.id))
    pruned = ImagesPruned(removed=tuple(sorted(removed)), kept_in_use=kept,
                          recent_since=recent_since)  # fmt: skip
    store.append(engine_stream(), [pruned], ANY, actor)
    return pruned
