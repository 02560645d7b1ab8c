"""Supply-chain questions: stored SBOMs, and which images an advisory or a package hits.

Which images contain an affected package is answered from each image's latest
ScanCompleted (in a run's stream or its `image-<id>` stream), so a re-scan against
a newer advisory set changes the answer without a rebuild. Its findings are read
from the findings document it names (migrations/0065_scan_findings.sql), or, for a
scan recorded before findings were stored apart, from the event itself. Which images contain a
package is answered from the package index of the stored SBOMs
(migrations/0018_sboms.sql). Where those images run, and since when, comes from the
deployments projection (by image id, or by a manifest digest a run pushed the image
as); while a projection has not caught up, the answer is a ProjectionError (503),
not a partial list.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
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
from events.store import Cursor, EventStore, RecordedEvent
from events.vocabulary import SbomGenerated, ScanCompleted, SkippedAdvisory

_SBOM_COLUMNS = "digest, image_id, document, components, stored_at"
AFFECTED_PAGE = 100
MAX_AFFECTED_PAGE = 1000


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


def _latest_scans(store: EventStore, images: list[str] | None = None) -> list[RecordedEvent]:
    """The latest ScanCompleted of each image (of `images`, if given), upcast."""
    found = store.by_data_field([ScanCompleted.type_name], "image_digest", images)
    return [store.upcast(event) for event in found.values()]


class FindingsNotStored(LookupError):
    """A ScanCompleted names a findings document that is not stored."""


def _documents(store: EventStore, digests: Sequence[str]) -> dict[str, list[ImageFinding]]:
    """The stored findings documents among `digests`, by digest."""
    if not digests:
        return {}
    with store.connection() as conn:
        rows = conn.execute(
            "SELECT digest, document FROM scan_findings WHERE digest = ANY(%s)", [list(digests)]
        ).fetchall()
    return {
        digest: [_finding(item) for item in json.loads(bytes(document))["findings"]]
        for digest, document in rows
    }


def scan_findings(store: EventStore, scans: Sequence[ScanCompleted]) -> list[list[ImageFinding]]:
    """Every finding of each scan: from its stored document, or inline (schema version 1)."""
    documents = _documents(store, [s.findings_digest for s in scans if s.findings_digest])
    out = []
    for scan in scans:
        if scan.findings_digest is None:
            out.append([_finding(f.model_dump(mode="json")) for f in scan.findings])
        elif scan.findings_digest in documents:
            out.append(documents[scan.findings_digest])
        else:
            raise FindingsNotStored(f"no findings document is stored under {scan.findings_digest}")
    return out


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


def _completed(scans: list[RecordedEvent]) -> list[ScanCompleted]:
    """The ScanCompleted payloads of `scans`."""
    return [scan.data for scan in scans if isinstance(scan.data, ScanCompleted)]


def _scanned(image: AffectedImage, scan: RecordedEvent) -> None:
    image.scanned_at, image.scan_stream = scan.recorded_at, scan.stream
    image.advisory_set_digest = _completed([scan])[0].advisory_set_digest


def _page(found: list[AffectedImage], after: str | None, limit: int) -> list[AffectedImage]:
    """The images after image id `after`, by image id, at most `limit`."""
    ordered = sorted(found, key=lambda image: image.image_digest)
    return [i for i in ordered if after is None or i.image_digest > after][:limit]


def images_affected_by(
    store: EventStore, advisory: str, *, after: str | None = None, limit: int = AFFECTED_PAGE
) -> list[AffectedImage]:
    """Images whose latest scan found `advisory` (by its id or one of its aliases).

    A page of them, by image id: those after `after`, at most `limit`.
    """
    scans = _latest_scans(store)
    completed = _completed(scans)
    found: list[AffectedImage] = []
    for scanned, event, findings in zip(
        scans, completed, scan_findings(store, completed), strict=True
    ):
        hits = [f for f in findings if f.advisory == advisory or advisory in f.aliases]
        if hits:
            image = AffectedImage(event.image_digest, sorted({f.purl for f in hits}), hits)
            _scanned(image, scanned)
            found.append(image)
    found = _page(found, after, limit)
    with store.connection() as conn:
        _where_deployed(conn, found)
    return found


def images_with_package(
    store: EventStore, purl_text: str, *, after: str | None = None, limit: int = AFFECTED_PAGE
) -> list[AffectedImage]:
    """Images whose SBOM lists the package (any version unless the purl names one).

    A page of them, by image id: those after `after`, at most `limit`.
    """
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
    scans = _latest_scans(store, list(images))
    completed = _completed(scans)
    for scanned, event, findings in zip(
        scans, completed, scan_findings(store, completed), strict=True
    ):
        image = images[event.image_digest]
        _scanned(image, scanned)
        image.findings = [f for f in findings if f.purl in image.packages]
    found = _page(list(images.values()), after, limit)
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
    """An image's latest scan: its advisory set, findings gravest first, records it skipped."""

    scanned_at: datetime
    stream: str
    step: str | None
    sbom_digest: str
    advisory_set_digest: str
    advisories: int
    fail_on: str | None
    findings: list[ImageFinding]
    by_severity: list[tuple[str, int]]
    findings_total: int = 0
    gating_total: int = 0
    skipped: tuple[SkippedAdvisory, ...] = ()  # the first ones; skipped_total counts them all
    skipped_total: int = 0
    findings_stored: bool = True  # False: the findings document is missing, only counts known


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


def scan_severities(data: Mapping[str, Any]) -> list[tuple[str, int]]:
    """A ScanCompleted's findings per severity, gravest first, from its payload as stored.

    A scan whose findings are in a stored document (`findings_digest`) counts them in
    `severities` (`unknown` shown as `unrated`); one of schema version 1 lists every
    finding in `findings`.
    """
    counts = data.get("severities")
    if not data.get("findings_digest") or not isinstance(counts, Mapping):
        return severity_counts(data.get("findings") or ())
    named = {(UNRATED if name == "unknown" else name): n for name, n in counts.items()}
    return [(name, named[name]) for name in (*SEVERITIES, UNRATED) if named.get(name)]


def latest_scan(
    store: EventStore, image_id: str, as_of: Cursor | None = None
) -> ScanSummary | None:
    """The image's latest ScanCompleted at or before `as_of` (None: now), findings gravest first.

    The findings come from the document the scan names (or, for a scan of schema
    version 1, from the event); if that document is missing, only the counts are shown.
    """
    stored = _latest_about(store, ScanCompleted.type_name, image_id, as_of)
    if stored is None:
        return None
    event = _completed([store.upcast(stored)])[0]
    try:
        findings = scan_findings(store, [event])[0]
    except FindingsNotStored:
        findings, kept = [], False
    else:
        kept = True
    rank = {name: i for i, name in enumerate((*SEVERITIES, UNRATED))}
    findings.sort(key=lambda f: (rank.get(f.severity or UNRATED, len(rank)), f.package, f.advisory))
    return ScanSummary(
        scanned_at=stored.recorded_at,
        stream=stored.stream,
        step=event.step,
        sbom_digest=event.sbom_digest,
        advisory_set_digest=event.advisory_set_digest,
        advisories=event.advisories,
        fail_on=event.fail_on,
        findings=findings,
        by_severity=severity_counts(findings) if kept else scan_severities(event.model_dump()),
        findings_total=len(findings) if kept else event.findings_total,
        gating_total=event.gating_total,
        skipped=event.skipped,
        skipped_total=event.skipped_total,
        findings_stored=kept,
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
