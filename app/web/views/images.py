"""The image page, by digest: where it came from, what it holds, whether it rebuilds, where it went.

The build, its inputs, labels, tests and pushes come from the images projection
(app/queries/images.py: a registry manifest digest or an engine image id); where
it ran, and still runs, from the deployments projection (app/queries/deployments.py);
its SBOM and latest scan (with the advisory records it skipped) from
app/queries/supplychain.py; its reproductions from
app/queries/reproductions.py. Everything is as of the page's `as_of` (None: now).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from app.queries.deployments import DeployedImage
from app.queries.images import ImageFacts, image_and_deployments
from app.queries.provenance import ImageNotFound, attestation, provenance
from app.queries.reproductions import ReproductionSummary, reproductions_until
from app.queries.supplychain import (
    SbomNotFound,
    SbomSummary,
    ScanSummary,
    image_sbom,
    latest_scan,
    sbom_summary,
)
from app.web.errors import BadParameter, NotFound
from events.store import Cursor, EventStore

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class ImagePage:
    """Everything the image page shows (`facts` is None for an image only ever deployed)."""

    digest: str
    image_id: str
    facts: ImageFacts | None
    deployed: list[DeployedImage] = field(default_factory=list)
    documents: dict[str, str] = field(default_factory=dict)
    sbom: SbomSummary | None = None
    scan: ScanSummary | None = None
    reproductions: list[ReproductionSummary] = field(default_factory=list)
    as_of: Cursor | None = None

    @property
    def running(self) -> list[DeployedImage]:
        """Where the image runs (as of the page's cursor)."""
        return [d for d in self.deployed if d.running]

    @property
    def ran(self) -> list[DeployedImage]:
        """Where it ran before, and no longer does."""
        return [d for d in self.deployed if not d.running]


def parse_digest(digest: str) -> str:
    """`digest` if it is a full `sha256:<64 hex>`, else BadParameter."""
    if not DIGEST.fullmatch(digest):
        raise BadParameter(
            "digest", f"{digest!r} is not a digest (sha256: and 64 hex digits); search a prefix"
        )
    return digest


def image_page(store: EventStore, digest: str, as_of: Cursor | None = None) -> ImagePage:
    """The image page's view of `digest` as of `as_of`; NotFound when nothing recorded names it."""
    digest = parse_digest(digest)
    record = image_and_deployments(store, digest, as_of)
    image_id = record.image_id
    sbom = sbom_summary(store, image_id, as_of)
    scan = latest_scan(store, image_id, as_of)
    reproductions = reproductions_until(store, image_id, as_of)
    if record.facts is None and not (record.deployed or sbom or scan or reproductions):
        then = "" if as_of is None else f" as of {as_of}"
        raise NotFound(
            f"no image {digest} is recorded{then}: no build, push, scan or deployment names it"
        )
    deployed = sorted(
        record.deployed, key=lambda d: (d.until is not None, d.environment, d.service, d.since)
    )
    documents = _documents(store, digest)
    return ImagePage(digest, image_id, record.facts, deployed, documents, sbom, scan,
                     reproductions, as_of)  # fmt: skip


def _documents(store: EventStore, digest: str) -> dict[str, str]:
    """Download links for the documents recorded for the image (provenance, attestation, SBOM).

    A link is offered only when its API answers with a document: the provenance for a
    recorded build, the attestation once a runner signed it, the SBOM once one was
    stored.
    """
    checks: tuple[tuple[str, str, Callable[[], object], type[Exception]], ...] = (
        ("SLSA provenance", "provenance", lambda: provenance(store, digest), ImageNotFound),
        ("signed attestation (DSSE)", "attestation", lambda: attestation(store, digest),
         ImageNotFound),
        ("CycloneDX SBOM", "sbom", lambda: image_sbom(store, digest), SbomNotFound),
    )  # fmt: skip
    found: dict[str, str] = {}
    for name, path, check, missing in checks:
        try:
            check()
        except missing:
            continue
        found[name] = f"/api/images/{digest}/{path}"
    return found
