"""The image page, by digest: where it came from, what it was tested with, where it went.

Read from the runs projection (builds and pushes), the ImageBuilt event (labels),
the runs' TestsReported events, and the env-* deployment events. A digest is
either a registry manifest digest (from ImagePushed) or an engine image id
(from ImageBuilt); the page links the two through the run that built and
pushed them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from app.projections.runs import RunsProjection
from app.web.errors import BadParameter, NotFound
from app.web.services.deployments import DeployEvent, current_image, events_of_image
from app.web.services.rows import every
from events.projections import current_tables
from events.store import EventStore
from events.vocabulary import TestsReported

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
    """Everything the image page shows."""

    digest: str
    builds: list[dict[str, Any]]
    pushes: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    labels: dict[str, str]
    tests: list[TestsReported]
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
        t = current_tables(conn, RunsProjection())
        pushes = every(
            conn, f"SELECT * FROM {t['run_pushes']} WHERE digest = %s ORDER BY position", digest
        )
        builds = every(
            conn, f"SELECT * FROM {t['run_images']} WHERE image_id = %s ORDER BY position", digest
        )
        run_ids = sorted({row["run_id"] for row in pushes + builds})
        if not builds and run_ids:  # a manifest digest: the images its runs built
            builds = every(
                conn,
                f"SELECT * FROM {t['run_images']} WHERE run_id = ANY(%s) ORDER BY position",
                run_ids,
            )
        if not pushes and run_ids:  # an image id: the pushes of its runs
            pushes = every(
                conn,
                f"SELECT * FROM {t['run_pushes']} WHERE run_id = ANY(%s) ORDER BY position",
                run_ids,
            )
        runs = every(
            conn, f"SELECT * FROM {t['runs']} WHERE run_id = ANY(%s) ORDER BY queued_at", run_ids
        )
        labels = _labels(conn, [row["position"] for row in builds])
        digests = sorted({digest} | {row["digest"] for row in pushes})
        deployments = [e for d in digests for e in events_of_image(conn, d)]
        deployments.sort(key=lambda e: e.position)
        placements = _placements(conn, deployments)
    if not (pushes or builds or deployments):
        raise NotFound(f"no image {digest} is recorded: no build, push or deployment names it")
    tests = [
        e.data
        for run_id in run_ids
        for e in store.read_stream(f"run-{run_id}")
        if isinstance(e.data, TestsReported)
    ]
    return ImageView(
        digest, builds, pushes, runs, labels, tests, deployments, placements,
        _documents(app, digest),
    )  # fmt: skip


def _labels(conn: Any, positions: list[int]) -> dict[str, str]:
    """The labels of the ImageBuilt events at `positions` (the last one's win)."""
    labels: dict[str, str] = {}
    for (data,) in conn.execute(
        "SELECT data->'labels' FROM events WHERE position = ANY(%s) ORDER BY position",
        (positions,),
    ):
        labels.update(data or {})
    return labels


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
