"""An image's provenance and signed attestation, found by digest, as of now or a past moment.

Used by GET /api/images/{digest}/provenance|attestation, the image page and
`shiplog attest get`. A digest is an image id (`ImageBuilt.image_id`) or a
manifest digest (`ImagePushed.digest`). When several runs built or pushed it, the
first run (in ledger order) that did so by the moment asked about answers, so an
image's provenance does not change as later runs rebuild it. Which runs hold a
digest comes from the images projection; what they did, from their streams.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from app.projections.images import ImagesProjection
from app.provenance import slsa
from events.projections import current_tables
from events.store import Cursor, EventStore, RecordedEvent
from events.streams import stream_name
from events.vocabulary import ProvenanceSigned

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class ImageNotFound(LookupError):
    """No image with that digest (at that moment), or no signed provenance of it."""


@dataclass(frozen=True)
class Located:
    """An image found in a run: the run, its events (up to the moment asked), the image."""

    run_id: str
    events: list[RecordedEvent]
    image: slsa.RunImage


def runs_with_image(store: EventStore, digest: str) -> list[str]:
    """Ids of the runs that built (image id) or pushed (manifest digest) `digest`, first first."""
    with store.connection() as conn:
        tables = current_tables(conn, ImagesProjection())
        query = sql.SQL(
            "SELECT run_id, tx_id, position FROM {images} WHERE image_id = %(d)s "
            "UNION ALL SELECT run_id, tx_id, position FROM {pushes} WHERE digest = %(d)s "
            "ORDER BY 2, 3"
        ).format(
            images=sql.Identifier(tables["images"]), pushes=sql.Identifier(tables["image_pushes"])
        )
        rows = conn.execute(query, {"d": digest}).fetchall()
    return list(dict.fromkeys(row[0] for row in rows))


def _candidates(store: EventStore, digest: str, as_of: Cursor | None) -> Iterator[Located]:
    """Each run that holds the image by `as_of`, first run first."""
    for run_id in runs_with_image(store, digest):
        events = store.read_stream(stream_name("run", run_id))
        if as_of is not None:
            events = [event for event in events if event.cursor <= as_of]
        image = slsa.image_in_run(events, digest)
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


def load_envelope(store: EventStore, digest: str) -> bytes | None:
    """The stored DSSE envelope with this digest, or None."""
    with store.connection() as conn:
        row = conn.execute(
            "SELECT envelope FROM attestations WHERE envelope_digest = %s", (digest,)
        ).fetchone()
    return None if row is None else bytes(row[0])


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
            envelope = load_envelope(store, signed[-1].envelope_digest)
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
