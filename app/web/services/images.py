"""The image page, by digest: where it came from, what it was tested with, where it went.

The build, its inputs, labels, tests and pushes come from the images projection
through app/queries/images.find_image (a registry manifest digest or an engine
image id); where it ran, and still runs, from the deployments projection
(app/queries/deployments.deployed_images).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fastapi import FastAPI

from app.queries.deployments import DeployedImage, deployed_images
from app.queries.images import ImageFacts, find_image
from app.web.errors import BadParameter, NotFound
from events.store import EventStore

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class ImageView:
    """Everything the image page shows (`facts` is None for an image only ever deployed)."""

    digest: str
    facts: ImageFacts | None
    deployed: list[DeployedImage] = field(default_factory=list)
    documents: dict[str, str] = field(default_factory=dict)


def parse_digest(digest: str) -> str:
    """`digest` if it is a full `sha256:<64 hex>`, else BadParameter."""
    if not DIGEST.fullmatch(digest):
        raise BadParameter(
            "digest", f"{digest!r} is not a digest (sha256: and 64 hex digits); search a prefix"
        )
    return digest


def image_view(app: FastAPI, store: EventStore, digest: str) -> ImageView:
    """The image page's view of `digest`; NotFound when nothing recorded names it."""
    digest = parse_digest(digest)
    with store.connection() as conn:
        facts = find_image(conn, digest)
        digests = {digest} | ({p.digest for p in facts.pushes} if facts else set())
        deployed = deployed_images(conn, digests)
    if facts is None and not deployed:
        raise NotFound(f"no image {digest} is recorded: no build, push or deployment names it")
    deployed.sort(key=lambda d: (d.until is not None, d.environment, d.service, d.since))
    return ImageView(digest, facts, deployed, _documents(app, digest))


def _documents(app: FastAPI, digest: str) -> dict[str, str]:
    """Download links for the image's documents, for each API route that serves one."""
    paths = set(app.openapi().get("paths", {}))
    offered = {
        "SLSA provenance": "/api/images/{digest}/provenance",
        "signed attestation (DSSE)": "/api/images/{digest}/attestation",
        "CycloneDX SBOM": "/api/images/{digest}/sbom",
    }
    return {
        name: path.replace("{digest}", digest) for name, path in offered.items() if path in paths
    }
