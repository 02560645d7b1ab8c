"""Signing a run's provenance: statements → DSSE envelopes → the attestations table → events.

The runner calls `Attestor.sign_run` once every step of a run has ended (and so
every push is recorded), before the run's outcome, and before a deploy step asks for
a deployment (images signed then are not signed again at the end): for each image the run built
it signs the statement `slsa.statement` makes from the run's events, stores the
envelope under the sha256 of its bytes (migrations/0019_attestations.sql) and
returns one ProvenanceSigned per image for the run's recorder to append. The
envelope is stored first: if the append then fails, what is left is an
unreferenced envelope, never an event naming an envelope that is not there.

The key is the runner's (SHIPLOG_HOME/keys/attestation.key), read in the runner
process; steps' containers mount only their workspace and never see it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.provenance import slsa
from app.provenance.dsse import key_id, sign_envelope
from events.store import EventStore, RecordedEvent
from events.vocabulary import ProvenanceSigned


def envelope_digest(envelope: bytes) -> str:
    """The digest an envelope is stored and named under: `sha256:<hex>` of its bytes."""
    return "sha256:" + hashlib.sha256(envelope).hexdigest()


def save_envelope(conn: psycopg.Connection[Any], envelope: bytes) -> str:
    """Store an envelope (once: the same bytes are the same row); return its digest."""
    digest = envelope_digest(envelope)
    conn.execute(
        "INSERT INTO attestations (envelope_digest, envelope) VALUES (%s, %s) "
        "ON CONFLICT (envelope_digest) DO NOTHING",
        (digest, envelope),
    )
    return digest


class Attestor:
    """Signs the provenance of a run's images with the attestation key and stores it."""

    def __init__(self, private_key: Ed25519PrivateKey, store: EventStore) -> None:
        """Sign with `private_key`; store envelopes through `store`'s connections."""
        self._key = private_key
        self._store = store
        self.key_id = key_id(private_key.public_key())

    def sign_run(
        self, run_id: str, events: Sequence[RecordedEvent], skip: Collection[str] = ()
    ) -> list[ProvenanceSigned]:
        """Sign and store each built image's statement (but the image ids in `skip`); the
        ProvenanceSigned events to record."""
        signed = []
        for image in slsa.run_images(events):
            if image.built.image_id in skip:
                continue
            body = slsa.statement_bytes(slsa.statement(run_id, events, image, finished=True))
            envelope = sign_envelope(body, self._key)
            with self._store.connection() as conn:
                digest = save_envelope(conn, envelope)
            signed.append(
                ProvenanceSigned(
                    step=image.built.step,
                    image_digest=image.built.image_id,
                    subject_digests=image.subject_digests,
                    envelope_digest=digest,
                    key_id=self.key_id,
                )
            )
        return signed
