"""Reads for the supply-chain routes: stored SBOMs, and which images an advisory or package hits.

Which images contain an affected package is answered from each image's latest
ScanCompleted (in a run's stream or its `image-<id>` stream), so a re-scan against
a newer advisory set changes the answer without a rebuild. Which images contain a
package is answered from the package index of the stored SBOMs. Where those images
run, and since when, comes from the deployments projection (by image id, or by a
manifest digest a run pushed the image as); while a projection has not caught up,
the answer is a ProjectionError (503), not a partial list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from packageurl import PackageURL

from app.projections.images import ImagesProjection
from app.queries.deployments import DeployedImage, deployed_images
from app.supplychain.records import stored_sbom_for
from app.supplychain.storage import SbomNotFound, StoredSbom
from events.projections import current_tables
from events.store import EventStore


class BadPurl(ValueError):
    """A `purl` query parameter that is not a package URL."""


@dataclass(frozen=True)
class ImageFinding:
    """One finding of an image's latest scan."""

    advisory: str
    aliases: list[str]
    package: str
    purl: str
    installed_version: str
    fixed_version: str | None
    severity: str | None


@dataclass
class AffectedImage:
    """An image that holds an affected (or the asked-for) package, and what its latest scan says."""

    image_digest: str
    packages: list[str] = field(default_factory=list)
    findings: list[ImageFinding] = field(default_factory=list)
    scanned_at: datetime | None = None
    advisory_set_digest: str | None = None
    scan_stream: str | None = None
    deployments: list[DeployedImage] = field(default_factory=list)


def _where_deployed(conn: psycopg.Connection[Any], images: list[AffectedImage]) -> None:
    """Fill each image's `deployments`: where and since when it ran, by id or pushed digest.

    Deployments name an image by the digest the reporting tool saw, usually a manifest
    digest a run pushed; the images projection maps those back to image ids.
    """
    by_id = {image.image_digest: image for image in images}
    if not by_id:
        return
    pushes = current_tables(conn, ImagesProjection())["image_pushes"]
    rows = conn.execute(
        f"SELECT DISTINCT digest, image_id FROM {pushes} WHERE image_id = ANY(%s)",
        [list(by_id)],
    ).fetchall()
    owner = {image_id: image_id for image_id in by_id} | {d: i for d, i in rows}
    for stretch in deployed_images(conn, owner):
        by_id[owner[stretch.image_digest]].deployments.append(stretch)


def image_sbom(store: EventStore, image_digest: str) -> StoredSbom:
    """The stored SBOM of an image (by id, or a manifest digest a run pushed), or SbomNotFound."""
    with store.connection() as conn:
        stored = stored_sbom_for(conn, image_digest)
    if stored is None:
        raise SbomNotFound(f"no SBOM is stored for image {image_digest}")
    return stored


def _latest_scans(store: EventStore, images: list[str] | None = None) -> list[tuple[Any, ...]]:
    """(image digest, payload, recorded_at, stream) of each image's latest ScanCompleted."""
    sql = (
        "SELECT DISTINCT ON (data->>'image_digest') data->>'image_digest', data, recorded_at,"
        " stream FROM events WHERE type = 'ScanCompleted'"
        " AND tx_id < pg_snapshot_xmin(pg_current_snapshot())"
    )
    params: list[Any] = []
    if images is not None:
        sql += " AND data->>'image_digest' = ANY(%s)"
        params.append(images)
    sql += " ORDER BY data->>'image_digest', position DESC"
    with store.connection() as conn:
        return list(conn.execute(sql, params).fetchall())


def _finding(raw: dict[str, Any]) -> ImageFinding:
    return ImageFinding(
        advisory=raw["advisory"],
        aliases=list(raw.get("aliases") or ()),
        package=raw["package"],
        purl=raw["purl"],
        installed_version=raw["installed_version"],
        fixed_version=raw.get("fixed_version"),
        severity=raw.get("severity"),
    )


def _scanned(image: AffectedImage, data: dict[str, Any], at: datetime, stream: str) -> None:
    image.scanned_at, image.scan_stream = at, stream
    image.advisory_set_digest = data["advisory_set_digest"]


def images_affected_by(store: EventStore, advisory: str) -> list[AffectedImage]:
    """Images whose latest scan found `advisory` (by its id or one of its aliases)."""
    found: list[AffectedImage] = []
    for digest, data, at, stream in _latest_scans(store):
        hits = [
            _finding(f)
            for f in data.get("findings") or ()
            if f["advisory"] == advisory or advisory in (f.get("aliases") or ())
        ]
        if hits:
            image = AffectedImage(digest, sorted({f.purl for f in hits}), hits)
            _scanned(image, data, at, stream)
            found.append(image)
    with store.connection() as conn:
        _where_deployed(conn, found)
    return found


def images_with_package(store: EventStore, purl_text: str) -> list[AffectedImage]:
    """Images whose SBOM lists the package (any version unless the purl names one)."""
    try:
        purl = PackageURL.from_string(purl_text)
    except ValueError as error:
        raise BadPurl(f"{purl_text!r} is not a package URL: {error}") from None
    sql = (
        "SELECT s.image_id, p.purl FROM sbom_packages p JOIN sboms s ON s.digest = p.sbom_digest"
        " WHERE p.purl_type = %s AND p.name = %s AND p.namespace IS NOT DISTINCT FROM %s"
    )
    params: list[Any] = [purl.type, purl.name, purl.namespace]
    if purl.version:
        sql += " AND p.version = %s"
        params.append(purl.version)
    sql += " ORDER BY s.image_id, p.purl"
    with store.connection() as conn:
        rows = conn.execute(sql, params).fetchall()
    images: dict[str, AffectedImage] = {}
    for image_id, package in rows:
        entry = images.setdefault(image_id, AffectedImage(image_id))
        if package not in entry.packages:
            entry.packages.append(package)
    for digest, data, at, stream in _latest_scans(store, list(images)):
        image = images[digest]
        _scanned(image, data, at, stream)
        image.findings = [
            _finding(f) for f in data.get("findings") or () if f["purl"] in image.packages
        ]
    found = list(images.values())
    with store.connection() as conn:
        _where_deployed(conn, found)
    return found
