"""What a scan does, shared by the scan step, `shiplog scan` and the benchmark.

make_sbom reads an image through the engine and builds its SBOM; scan matches an
SBOM's packages against an advisory set; a ScanResult gives the findings document
(stored content-addressed, app/supplychain/storage.py) and the ledger's
ScanCompleted, which records counts, the gating findings and that document's digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from app.supplychain.advisoryindex import AdvisorySet, load_advisories
from app.supplychain.files import ImageMetadata
from app.supplychain.imagefs import image_facts, read_image_files
from app.supplychain.inventory import inventory
from app.supplychain.matching import Match, at_or_above, match_packages
from app.supplychain.osv import NoAdvisories
from app.supplychain.packages import Package
from app.supplychain.sbom import Sbom, build_sbom
from events.canonical import canonical_json
from events.vocabulary import (
    GATING_LIMIT,
    Finding,
    SbomGenerated,
    ScanCompleted,
    SeverityCounts,
    SkippedAdvisory,
)


@dataclass(frozen=True)
class MadeSbom:
    """An image's facts, its packages and the SBOM made of them."""

    facts: ImageMetadata
    packages: list[Package]
    sbom: Sbom


def make_sbom(client: Any, ref: str, labels: dict[str, str] | None = None) -> MadeSbom:
    """Inventory a local image (by id or name) and build its SBOM; the image is never run."""
    facts = image_facts(client, ref)
    files = read_image_files(client, facts.image_id, labels)
    packages = inventory(files)
    return MadeSbom(facts, packages, build_sbom(facts, packages))


def advisories_from(directory: Path | None) -> AdvisorySet:
    """The advisory set of the configured directory; NoAdvisories if there is none."""
    if directory is None:
        raise NoAdvisories()
    return load_advisories(directory)


def findings(matches: Sequence[Match]) -> tuple[Finding, ...]:
    """The matches as the ledger records them."""
    return tuple(
        Finding(
            advisory=m.advisory.id,
            aliases=m.advisory.aliases,
            package=m.package.name,
            installed_version=m.package.version,
            fixed_version=m.fixed_version,
            severity=m.severity,
            ecosystem=m.package.osv_ecosystem,
            purl=m.package.purl,
        )
        for m in matches
    )


def sbom_event(sbom: Sbom, step: str | None = None) -> SbomGenerated:
    """SbomGenerated for a stored SBOM."""
    return SbomGenerated(
        step=step,
        image_digest=sbom.image_id,
        sbom_digest=sbom.digest,
        components=sbom.components,
        ecosystems=sbom.ecosystems,
    )


@dataclass(frozen=True)
class FindingsDocument:
    """Every finding of a scan and every advisory record it skipped, as stored bytes."""

    digest: str
    document: bytes
    findings: int


@dataclass(frozen=True)
class ScanResult:
    """What matching one SBOM's packages against one advisory set found."""

    image_id: str
    sbom_digest: str
    advisories: AdvisorySet
    matches: list[Match]

    @cached_property
    def document(self) -> FindingsDocument:
        """The findings document: canonical JSON, content-addressed by its sha256."""
        body = {
            "image_digest": self.image_id,
            "sbom_digest": self.sbom_digest,
            "advisory_set_digest": self.advisories.digest,
            "findings": [f.model_dump(mode="json") for f in findings(self.matches)],
            "skipped": [item.as_json() for item in self.advisories.skipped],
        }
        data = canonical_json(body)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        return FindingsDocument(digest, data, len(self.matches))

    def event(self, step: str | None = None, fail_on: str | None = None) -> ScanCompleted:
        """ScanCompleted for this result: counts, gating findings, the document's digest."""
        counts = {name: 0 for name in SeverityCounts.model_fields}
        for match in self.matches:
            counts[match.severity or "unknown"] += 1
        gating = self.gating(fail_on)
        skipped = self.advisories.skipped
        return ScanCompleted(
            step=step,
            image_digest=self.image_id,
            sbom_digest=self.sbom_digest,
            advisory_set_digest=self.advisories.digest,
            advisories=self.advisories.records,
            findings_digest=self.document.digest,
            findings_total=len(self.matches),
            severities=SeverityCounts(**counts),
            gating=findings(gating[:GATING_LIMIT]),
            gating_total=len(gating),
            skipped=tuple(
                SkippedAdvisory(source=item.source, id=item.id, reason=item.reason)
                for item in skipped[:GATING_LIMIT]
            ),
            skipped_total=len(skipped),
            fail_on=fail_on,
        )

    def gating(self, fail_on: str | None) -> list[Match]:
        """The matches at or above `fail_on` (none without a threshold)."""
        if fail_on is None:
            return []
        return [m for m in self.matches if at_or_above(m.severity, fail_on)]


def scan(
    image_id: str, sbom_digest: str, packages: Sequence[Package], advisories: AdvisorySet
) -> ScanResult:
    """Match an SBOM's packages against an advisory set."""
    return ScanResult(image_id, sbom_digest, advisories, match_packages(packages, advisories))


def describe_skipped(advisories: AdvisorySet, limit: int = 20) -> list[str]:
    """Lines naming the advisory records a scan could not read (the first `limit`)."""
    lines = [
        f"  skipped {item.source}{f' ({item.id})' if item.id else ''}: {item.reason}"
        for item in advisories.skipped[:limit]
    ]
    if len(advisories.skipped) > limit:
        lines.append(f"  ... and {len(advisories.skipped) - limit} more")
    return lines


def describe(match: Match) -> str:
    """One line for a finding, for logs and the CLI."""
    fixed = f", fixed in {match.fixed_version}" if match.fixed_version else ", no fix named"
    return (
        f"{match.advisory.id} ({match.severity or 'severity unknown'}) "
        f"{match.package.name} {match.package.version}{fixed}"
    )
