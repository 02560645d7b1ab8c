"""The image page, by digest: where it came from, what it was tested with, where it went.

The build, its inputs, labels, tests and pushes come from the images projection
(app/queries/images.py: a registry manifest digest or an engine image id); where
it ran, and still runs, from the deployments projection (app/queries/deployments.py);
its latest vulnerability scan, with the advisory records it skipped, from the ledger.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from app.queries.deployments import DeployedImage
from app.queries.images import ImageFacts, image_and_deployments
from app.queries.provenance import ImageNotFound, attestation, provenance
from app.queries.supplychain import LatestScan, SbomNotFound, image_sbom, latest_scan
from app.web.errors import BadParameter, NotFound
from events.store import EventStore

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class ImagePage:
    """Everything the image page shows (`facts` is None for an image only ever deployed)."""

    digest: str
    facts: ImageFacts | None
    deployed: list[DeployedImage] = field(default_factory=list)
    documents: dict[str, str] = field(default_factory=dict)
    scan: LatestScan | None = None


def parse_digest(digest: str) -> str:
    """`digest` if it is a full `sha256:<64 hex>`, else BadParameter."""
    if not DIGEST.fullmatch(digest):
        raise BadParameter(
            "digest", f"{digest!r} is not a digest (sha256: and 64 hex digits); search a prefix"
        )
    return digest


def image_page(store: EventStore, digest: str) -> ImagePage:
    """The image page's view of `digest`; NotFound when nothing recorded names it."""
    digest = parse_digest(digest)
    facts, deployed = image_and_deployments(store, digest)
    scan = latest_scan(store, facts.image_id if facts is not None else digest)
    if facts is None and not deployed and scan is None:
        raise NotFound(
            f"no image {digest} is recorded: no build, push, deployment or scan names it"
        )
    deployed.sort(key=lambda d: (d.until is not None, d.environment, d.service, d.since))
    image_id = facts.image_id if facts is not None else digest
    return ImagePage(
        digest, facts, deployed, _documents(store, digest), latest_scan(store, image_id)
    )


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
