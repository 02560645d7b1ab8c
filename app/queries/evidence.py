"""The evidence of a pushed digest, read from the ledger and the attestations table.

Straight from the events, not the projections, so a deploy step sees what its own run
recorded a moment ago: the first ImagePushed of the digest names the run; that run's
stream holds the build, the test reports and the signed provenance; the image's latest
ScanCompleted is found by its image id. The envelope is verified here with the keys
this shiplog trusts (its attestation key), and its statement read for the repository
and ref it vouches for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.delivery.errors import NotDeliverable
from app.delivery.evidence import Evidence, LatestScan, SignedProvenance, TestResult
from app.provenance.dsse import BadEnvelope, key_id, parse_envelope, verify_envelope
from app.provenance.slsa import BUILD_TYPE
from app.queries.provenance import load_envelope
from app.queries.supplychain import FindingsNotStored, scan_findings
from events.store import EventStore, RecordedEvent
from events.vocabulary import (
    ImageBuilt,
    ImagePushed,
    ProvenanceSigned,
    RunQueued,
    ScanCompleted,
    TestsReported,
)


@dataclass(frozen=True)
class LedgerEvidence:
    """EvidenceReader over the ledger, trusting signatures of `trusted_keys`."""

    store: EventStore
    trusted_keys: Sequence[Ed25519PublicKey]

    def evidence_of(self, image_digest: str) -> Evidence:
        """The digest's evidence now; NotDeliverable if no run pushed it."""
        pushes = self.store.by_data_field(
            [ImagePushed.type_name], "digest", [image_digest], first=True
        )
        push = pushes.get(image_digest)
        if push is None:
            raise NotDeliverable(
                f"no run pushed {image_digest}: shiplog delivers the manifest digests its runs "
                "pushed to a registry (see `shiplog images`)"
            )
        events = self.store.read_stream(push.stream)
        run_id = push.stream.partition("-")[2]
        queued = _first(events, RunQueued)
        if queued is None:
            raise NotDeliverable(f"run {run_id} that pushed {image_digest} has no RunQueued")
        image_id = push.data.get("image_id")
        return Evidence(
            image_digest=image_digest,
            image_id=image_id,
            image=f"{push.data['repository']}@{image_digest}",
            run_id=run_id,
            repository=queued.repository,
            commit=queued.commit,
            ref=queued.ref,
            commit_time=queued.commit_time,
            provenance=self._provenance(events, image_digest, image_id),
            scan=self._scan(image_id),
            tests=tuple(
                TestResult(e.data.step, e.data.passed, e.data.failed, e.data.report_sha256)
                for e in events
                if isinstance(e.data, TestsReported) and _built_before(events, e, image_id)
            ),
        )

    def _provenance(
        self, events: list[RecordedEvent], image_digest: str, image_id: str | None
    ) -> SignedProvenance | None:
        """The newest ProvenanceSigned naming the digest, checked; None if it was never signed."""
        signed = [
            e.data
            for e in events
            if isinstance(e.data, ProvenanceSigned)
            and (image_digest in e.data.subject_digests or e.data.image_digest == image_id)
        ]
        if not signed:
            return None
        record = signed[-1]
        envelope = load_envelope(self.store, record.envelope_digest)
        if envelope is None:
            return SignedProvenance(
                record.envelope_digest,
                record.key_id,
                False,
                "the envelope is not stored",
                None,
                None,
            )
        return check_envelope(envelope, record, image_digest, self.trusted_keys)

    def _scan(self, image_id: str | None) -> LatestScan | None:
        """The image's latest scan, if it was ever scanned."""
        if image_id is None:
            return None
        found = self.store.by_data_field([ScanCompleted.type_name], "image_digest", [image_id])
        scan = found.get(image_id)
        if scan is None:
            return None
        try:
            completed = ScanCompleted.model_validate_json(json.dumps(scan.data))  # as stored
            (listed,) = scan_findings(self.store, [completed])
            findings = tuple((f.advisory, f.severity) for f in listed)
        except FindingsNotStored as error:
            # Findings that cannot be read cannot be shown to pass: the gate refuses them.
            findings = ((str(error), "critical"),)
        return LatestScan(
            leaf_sha256=scan.hash.hex(),
            advisory_set_digest=scan.data["advisory_set_digest"],
            findings=findings,
            scanned_at=scan.recorded_at,
        )


def _first(events: list[RecordedEvent], kind: type[RunQueued]) -> RunQueued | None:
    """The run's RunQueued."""
    return next((e.data for e in events if isinstance(e.data, kind)), None)


def _built_before(events: list[RecordedEvent], report: RecordedEvent, image_id: str | None) -> bool:
    """True if the run had built the image when the tests reported (tests of that image)."""
    return any(
        isinstance(e.data, ImageBuilt)
        and e.data.image_id == image_id
        and e.version < report.version
        for e in events
    )


def check_envelope(
    envelope: bytes,
    record: ProvenanceSigned,
    image_digest: str,
    trusted_keys: Sequence[Ed25519PublicKey],
) -> SignedProvenance:
    """Verify an envelope with the trusted keys and read what its statement vouches for."""

    def found(
        problem: str | None, statement: dict[str, Any] | None, trusted: bool
    ) -> SignedProvenance:
        external = ((statement or {}).get("predicate") or {}).get("buildDefinition") or {}
        parameters = external.get("externalParameters") or {}
        return SignedProvenance(
            envelope_digest=record.envelope_digest,
            key_id=record.key_id,
            trusted=trusted,
            problem=problem,
            repository=parameters.get("repository"),
            ref=parameters.get("ref"),
        )

    keys = [key for key in trusted_keys if key_id(key) == record.key_id]
    if not keys:
        try:
            _, _, signatures = parse_envelope(envelope)
        except BadEnvelope as error:
            return found(f"the envelope is unreadable: {error}", None, False)
        return found(
            f"signed by key {record.key_id[:16]}…, which this shiplog does not trust "
            f"({len(signatures)} signature(s))",
            None,
            False,
        )
    try:
        verified = verify_envelope(envelope, keys[0])
    except BadEnvelope as error:
        return found(f"the signature does not verify: {error}", None, True)
    statement = verified.statement
    subjects = [s.get("digest", {}).get("sha256") for s in statement.get("subject") or ()]
    if image_digest.removeprefix("sha256:") not in subjects:
        return found(f"the statement's subjects do not name {image_digest}", statement, True)
    build = (statement.get("predicate") or {}).get("buildDefinition") or {}
    if build.get("buildType") != BUILD_TYPE:
        return found(
            f"not built by shiplog (buildType {build.get('buildType')!r})", statement, True
        )
    return found(None, statement, True)
