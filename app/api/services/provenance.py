"""An image's provenance and signed attestation, found by digest, as of now or a past moment.

Used by GET /api/images/{digest}/provenance|attestation and `shiplog attest get`.
A digest is an image id (`ImageBuilt.image_id`) or a manifest digest
(`ImagePushed.digest`). When several runs built or pushed it, the first run (in
ledger order) that did so by the moment asked about answers, so an image's
provenance does not change as later runs rebuild it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.executor.runs import run_stream
from app.provenance import slsa
from app.provenance.attestations import load_envelope
from app.provenance.lookup import runs_with_image, until
from events.store import Cursor, EventStore, RecordedEvent
from events.vocabulary import ProvenanceSigned


class ImageNotFound(LookupError):
    """No image with that digest (at that moment), or no signed provenance of it."""


@dataclass(frozen=True)
class Located:
    """An image found in a run: the run, its events (up to the moment asked), the image."""

    run_id: str
    events: list[RecordedEvent]
    image: slsa.RunImage


def _candidates(store: EventStore, digest: str, as_of: Cursor | None) -> Iterator[Located]:
    """Each run that holds the image by `as_of`, first run first."""
    with store.connection() as conn:
        runs = runs_with_image(conn, digest)
    for run_id in runs:
        events = store.read_stream(run_stream(run_id))
        if as_of is not None:
            events = until(events, as_of)
        image = slsa.find_image(events, digest)
        if image is not None:
            yield Located(run_id, events, image)


def _not_found(store: EventStore, digest: str, as_of: Cursor | None) -> ImageNotFound:
    """The 404 for a digest, saying whether it is unknown or only came later than `as_of`."""
    if as_of is not None and any(True for _ in _candidates(store, digest, None)):
        return ImageNotFound(
            f"image {digest} did not exist as of {as_of}: the ledger records it only later"
        )
    return ImageNotFound(
        f"no image {digest} in the ledger: no run built an image with that id "
        "or pushed a manifest with that digest"
    )


def locate(store: EventStore, digest: str, as_of: Cursor | None = None) -> Located:
    """The image known by `digest` as of `as_of` (default: now); ImageNotFound if none."""
    found = next(_candidates(store, digest, as_of), None)
    if found is None:
        raise _not_found(store, digest, as_of)
    return found


def provenance(store: EventStore, digest: str, as_of: Cursor | None = None) -> dict[str, Any]:
    """The SLSA v1 provenance statement of the image, built from its run's events."""
    found = locate(store, digest, as_of)
    finished = slsa.steps_over(found.events)
    return slsa.statement(found.run_id, found.events, found.image, finished=finished)


def attestation(store: EventStore, digest: str) -> bytes:
    """The stored DSSE envelope of the image's provenance; ImageNotFound if never signed."""
    for found in _candidates(store, digest, None):
        signed = [
            event.data
            for event in found.events
            if isinstance(event.data, ProvenanceSigned)
            and event.data.step == found.image.built.step
            and event.data.image_digest == found.image.built.image_id
        ]
        if signed:
            with store.connection() as conn:
                envelope = load_envelope(conn, signed[-1].envelope_digest)
            if envelope is None:
                raise ImageNotFound(
                    f"the envelope {signed[-1].envelope_digest} recorded for image {digest} "
                    "is missing from the attestations table"
                )
            return envelope
    locate(store, digest)  # raises ImageNotFound when the image is unknown
    raise ImageNotFound(
        f"image {digest} has no signed provenance: its run has not finished its steps, "
        "was cancelled, or ran before shiplog signed provenance"
    )
