"""The image page, by digest: where it came from, what it was tested with, where it went.

The build, its inputs, labels, tests and pushes come from the images projection
through app/queries/images.find_image (a registry manifest digest or an engine
image id); where the image went comes from the env-* deployment events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from app.queries.images import ImageFacts, find_image
from app.web.errors import BadParameter, NotFound
from app.web.services.deployments import DeployEvent, current_image, events_of_image
from events.store import EventStore

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Placement:
    """A service of an environment that ran this image, and whether it still does."""

    environment: str
    service: str
    since: DeployEvent
    current: bool


@dataclass(frozen=True)
class ImageView:
    """Everything the image page shows (`facts` is None for an image only ever deployed)."""

    digest: str
    facts: ImageFacts | None
    deployments: list[DeployEvent]
    placements: list[Placement] = field(default_factory=list)
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
        deployments = sorted(
            (e for d in sorted(digests) for e in events_of_image(conn, d)),
            key=lambda e: e.position,
        )
        placements = _placements(conn, deployments)
    if facts is None and not deployments:
        raise NotFound(f"no image {digest} is recorded: no build, push or deployment names it")
    return ImageView(digest, facts, deployments, placements, _documents(app, digest))


def _placements(conn: Any, deployments: list[DeployEvent]) -> list[Placement]:
    """Per environment and service that ran the image: since when, and whether it still does."""
    seen: dict[tuple[str, str], DeployEvent] = {}
    for event in deployments:
        if event.type in ("DeploymentSucceeded", "RolledBack"):
            seen.setdefault((event.environment, event.service), event)
    return [
        Placement(env, service, event, current_image(conn, env, service) == event.image_digest)
        for (env, service), event in sorted(seen.items())
    ]


def _documents(app: FastAPI, digest: str) -> dict[str, str]:
    """Download links for the image's documents, for each API route that serves one."""
    paths = set(app.openapi().get("paths", {}))
    offered = {
        "SLSA provenance": "/api/images/{digest}/provenance",
        "CycloneDX SBOM": "/api/images/{digest}/sbom",
    }
    return {
        name: path.replace("{digest}", digest) for name, path in offered.items() if path in paths
    }
