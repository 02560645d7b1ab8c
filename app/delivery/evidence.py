"""The evidence behind one image digest: where it was pushed, its signed provenance, scan, tests.

Delivery decisions read evidence through `EvidenceReader`, which the read side
implements (app/queries/evidence.py) and the composition root hands in, so that the
executor's deploy step and the commands of app/services decide from the same facts.
`Evidence.sha256` is the hash approvals name: it changes when any piece of evidence does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from events.vocabulary import EvidenceItem

SEVERITIES = ("critical", "high", "medium", "low")
"""Severities, gravest first."""


@dataclass(frozen=True)
class SignedProvenance:
    """What checking the digest's signed provenance found."""

    envelope_digest: str
    key_id: str
    trusted: bool  # signed with a key this shiplog trusts (its own attestation key)
    problem: str | None  # why the signature or the statement does not hold, if it does not
    repository: str | None  # the statement's source repository
    ref: str | None  # the ref it was built from, e.g. refs/heads/main


@dataclass(frozen=True)
class LatestScan:
    """The digest's latest scan: its findings' severities and where the scan is in the ledger."""

    leaf_sha256: str  # the ScanCompleted event's leaf hash, hex
    advisory_set_digest: str
    findings: tuple[tuple[str, str | None], ...]  # (advisory id, severity)
    scanned_at: datetime


@dataclass(frozen=True)
class TestResult:
    """One TestsReported of the run that built the image."""

    __test__ = False  # not a pytest test class, despite its name
    step: str
    passed: int
    failed: int
    report_sha256: str


@dataclass(frozen=True)
class Evidence:
    """Everything recorded about a pushed digest that a gate may look at."""

    image_digest: str
    image_id: str | None
    image: str  # what a swarm pulls: <repository>@<digest>
    run_id: str
    repository: str  # the source repository, as the run recorded it
    commit: str
    ref: str
    commit_time: datetime | None
    provenance: SignedProvenance | None
    scan: LatestScan | None
    tests: tuple[TestResult, ...]

    @property
    def branch(self) -> str | None:
        """The branch the image was built from, if it was built from one."""
        prefix = "refs/heads/"
        return self.ref.removeprefix(prefix) if self.ref.startswith(prefix) else None

    def items(self) -> tuple[EvidenceItem, ...]:
        """The evidence by digest, in a fixed order (provenance, scan, tests by step)."""
        found: list[EvidenceItem] = []
        if self.provenance is not None:
            found.append(EvidenceItem(kind="provenance", digest=self.provenance.envelope_digest))
        if self.scan is not None:
            found.append(EvidenceItem(kind="scan", digest="sha256:" + self.scan.leaf_sha256))
        for test in sorted(self.tests, key=lambda t: (t.step, t.report_sha256)):
            found.append(EvidenceItem(kind="tests", digest="sha256:" + test.report_sha256))
        return tuple(found)

    def sha256(self) -> str:
        """Hex sha256 of the digest and its evidence as canonical JSON (docs/delivery.md)."""
        body = {
            "image_digest": self.image_digest,
            "evidence": [{"kind": item.kind, "digest": item.digest} for item in self.items()],
        }
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


class EvidenceReader(Protocol):
    """Finds the evidence of a pushed digest (the read side implements it)."""

    def evidence_of(self, image_digest: str) -> Evidence:
        """The digest's evidence now; NotDeliverable if no run pushed it."""
