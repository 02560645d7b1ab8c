"""Supply-chain questions: stored SBOMs, and which images an advisory or a package hits.

Which images contain an affected package is answered from each image's latest
ScanCompleted (in a run's stream or its `image-<id>` stream), so a re-scan against
a newer advisory set changes the answer without a rebuild. Which images contain a
package is answered from the package index of the stored SBOMs
(migrations/0018_sboms.sql). Where those images run, and since when, comes from the
deployments projection (by image id, or by a manifest digest a run pushed the image
as); while a projection has not caught up, the answer is a ProjectionError (503),
not a partial list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from packageurl import PackageURL

from app.projections.images import ImagesProjection
from app.queries.deployments import DeployedImage, deployed_images
from app.queries.images import image_id_for
from app.supplychain.sbom import InvalidSbom, read_packages
from events.lookups import StoredEvent
from events.projections import ProjectionError, current_tables
from events.store import Cursor, EventStore
from events.vocabulary import SbomGenerated, ScanCompleted

_SBOM_COLUMNS = "digest, image_id, document, components, stored_at"


class SbomNotFound(LookupError):
    """No SBOM is stored under this digest, or for this image."""


class BadPurl(ValueError):
    """A `purl` parameter that is not a package URL."""


@dataclass(frozen=True)
class StoredSbom:
    """An SBOM as stored: its digest, image, bytes and when it was first stored."""

    digest: str
    image_id: str
    document: bytes
    components: int
    stored_at: datetime


def _stored(row: Any) -> StoredSbom:
    return StoredSbom(row[0], row[1], bytes(row[2]), row[3], row[4])


def load_sbom(store: EventStore, digest: str) -> StoredSbom:
    """The SBOM stored under `digest`, or SbomNotFound."""
    with store.connection() as conn:
        row = conn.execute(
            f"SELECT {_SBOM_COLUMNS} FROM sboms WHERE digest = %s", (digest,)
        ).fetchone()
    if row is None:
        raise SbomNotFound(f"no SBOM is stored under {digest}")
    return _stored(row)


def _sbom_for_image(conn: psycopg.Connection[Any], image_id: str) -> StoredSbom | None:
    """The SBOM most recently stored for an image, if any."""
    row = conn.execute(
        f"SELECT {_SBOM_COLUMNS} FROM sboms WHERE image_id = %s "
        "ORDER BY stored_at DESC, digest LIMIT 1",
        (image_id,),
    ).fetchone()
    return None if row is None else _stored(row)


def sbom_of(store: EventStore, digest: str) -> StoredSbom | None:
    """The stored SBOM of the image `digest` names: its id, or a manifest digest a run pushed."""
    with store.connection() as conn:
        stored = _sbom_for_image(conn, digest)
        if stored is not None:
            return stored
        try:
            image_id = image_id_for(conn, digest)
        except ProjectionError:  # the images projection is not built yet: no pushes known
            return None
        return _sbom_for_image(conn, image_id) if image_id and image_id != digest else None


def image_sbom(store: EventStore, image_digest: str) -> StoredSbom:
    """The stored SBOM of an image (by id, or a manifest digest a run pushed), or SbomNotFound."""
    stored = sbom_of(store, image_digest)
    if stored is None:
        raise SbomNotFound(f"no SBOM is stored for image {image_digest}")
    return stored


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


def _latest_scans(store: EventStore, images: list[str] | None = None) -> list[StoredEvent]:
    """The latest ScanCompleted of each image (of `images`, if given), as stored."""
    found = store.by_data_field([ScanCompleted.type_name], "image_digest", images)
    return list(found.values())


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


def _scanned(image: AffectedImage, scan: StoredEvent) -> None:
    image.scanned_at, image.scan_stream = scan.recorded_at, scan.stream
    image.advisory_set_digest = scan.data["advisory_set_digest"]


def images_affected_by(store: EventStore, advisory: str) -> list[AffectedImage]:
    """Images whose latest scan found `advisory` (by its id or one of its aliases)."""
    found: list[AffectedImage] = []
    for scanned in _latest_scans(store):
        digest, data = scanned.data["image_digest"], scanned.data
        hits = [
            _finding(f)
            for f in data.get("findings") or ()
            if f["advisory"] == advisory or advisory in (f.get("aliases") or ())
        ]
        if hits:
            image = AffectedImage(digest, sorted({f.purl for f in hits}), hits)
            _scanned(image, scanned)
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
    for scanned in _latest_scans(store, list(images)):
        image = images[scanned.data["image_digest"]]
        _scanned(image, scanned)
        image.findings = [
            _finding(f) for f in scanned.data.get("findings") or () if f["purl"] in image.packages
        ]
    found = list(images.values())
    with store.connection() as conn:
        _where_deployed(conn, found)
    return found


# --- one image's SBOM and latest scan, as of a cursor (the image page) --------------------

SEVERITIES = ("critical", "high", "medium", "low")
UNRATED = "unrated"  # a finding whose advisory states no severity
NO_LICENCE = "none declared"


def severity_counts(findings: Iterable[Mapping[str, Any] | ImageFinding]) -> list[tuple[str, int]]:
    """(severity, findings) gravest first, then `unrated`; severities without findings left out."""
    counts = Counter(
        (f.get("severity") if isinstance(f, Mapping) else f.severity) or UNRATED for f in findings
    )
    known = [(name, counts.pop(name)) for name in (*SEVERITIES, UNRATED) if counts[name]]
    return known + sorted(counts.items())


@dataclass(frozen=True)
class SbomSummary:
    """What an image's SBOM lists, counted: packages per ecosystem and per licence."""

    digest: str
    components: int
    generated_at: datetime
    stream: str
    ecosystems: list[tuple[str, int]]  # OSV ecosystem (`Debian:12`, `PyPI`) → packages
    licences: list[tuple[str, int]]  # licence as declared → packages, most used first
    stored: bool  # False: the document is not in the sboms table, only its event's counts


@dataclass(frozen=True)
class ScanSummary:
    """An image's latest scan: the advisory set it used and its findings, gravest first."""

    scanned_at: datetime
    stream: str
    step: str | None
    sbom_digest: str
    advisory_set_digest: str
    advisories: int
    fail_on: str | None
    findings: list[ImageFinding]
    by_severity: list[tuple[str, int]]


def _latest_about(
    store: EventStore, type_name: str, image_id: str, as_of: Cursor | None
) -> StoredEvent | None:
    """The latest event of `type_name` about the image (`image_digest`) at or before `as_of`."""
    found = store.with_data_field([type_name], "image_digest", [image_id], until=as_of, limit=1)
    return found[0] if found else None


def sbom_summary(
    store: EventStore, image_id: str, as_of: Cursor | None = None
) -> SbomSummary | None:
    """The image's latest SBOM recorded at or before `as_of` (None: now), counted."""
    event = _latest_about(store, SbomGenerated.type_name, image_id, as_of)
    if event is None:
        return None
    digest = str(event.data["sbom_digest"])
    counts = dict(event.data.get("ecosystems") or {})
    try:
        _, packages = read_packages(load_sbom(store, digest).document)
    except (SbomNotFound, InvalidSbom):
        return SbomSummary(digest, int(event.data["components"]), event.recorded_at,
                           event.stream, sorted(counts.items()), [], stored=False)  # fmt: skip
    ecosystems = Counter(p.osv_ecosystem for p in packages)
    licences = Counter(name for p in packages for name in (p.licenses or (NO_LICENCE,)))
    return SbomSummary(
        digest,
        int(event.data["components"]),
        event.recorded_at,
        event.stream,
        sorted(ecosystems.items()),
        sorted(licences.items(), key=lambda item: (-item[1], item[0])),
        stored=True,
    )


def latest_scan(
    store: EventStore, image_id: str, as_of: Cursor | None = None
) -> ScanSummary | None:
    """The image's latest ScanCompleted at or before `as_of` (None: now), findings gravest first."""
    event = _latest_about(store, ScanCompleted.type_name, image_id, as_of)
    if event is None:
        return None
    data = event.data
    findings = [_finding(f) for f in data.get("findings") or ()]
    rank = {name: i for i, name in enumerate((*SEVERITIES, UNRATED))}
    findings.sort(key=lambda f: (rank.get(f.severity or UNRATED, len(rank)), f.package, f.advisory))
    return ScanSummary(
        scanned_at=event.recorded_at,
        stream=event.stream,
        step=data.get("step"),
        sbom_digest=str(data["sbom_digest"]),
        advisory_set_digest=str(data["advisory_set_digest"]),
        advisories=int(data["advisories"]),
        fail_on=data.get("fail_on"),
        findings=findings,
        by_severity=severity_counts(findings),
    )


def running_places(store: EventStore, image_id: str) -> list[str]:
    """Where an image runs now, as `environment/service`: by its id or a digest it was pushed as."""
    image = AffectedImage(image_id)
    with store.connection() as conn:
        try:
            _where_deployed(conn, [image])
        except ProjectionError:
            return []  # the projections have not caught up: nothing is known to run
    return sorted({f"{d.environment}/{d.service}" for d in image.deployments if d.running})
