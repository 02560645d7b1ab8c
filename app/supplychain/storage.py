"""SBOMs kept content-addressed in PostgreSQL (migrations/0018_sboms.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from packageurl import PackageURL

from app.supplychain.packages import Package
from app.supplychain.sbom import Sbom, sbom_digest


class SbomNotFound(LookupError):
    """No SBOM is stored under this digest, or for this image."""


@dataclass(frozen=True)
class StoredSbom:
    """An SBOM as stored: its digest, image, bytes and when it was first stored."""

    digest: str
    image_id: str
    document: bytes
    components: int
    stored_at: datetime


def store_sbom(conn: psycopg.Connection[Any], sbom: Sbom, packages: Sequence[Package]) -> bool:
    """Store an SBOM and its package index in one transaction; False if it was already there."""
    if sbom_digest(sbom.document) != sbom.digest:
        raise ValueError("the SBOM's digest does not match its bytes")
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO sboms (digest, image_id, document, components) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (digest) DO NOTHING RETURNING digest",
            (sbom.digest, sbom.image_id, sbom.document, sbom.components),
        ).fetchone()
        if row is None:
            return False
        rows = []
        for package in packages:
            purl = PackageURL.from_string(package.purl)
            rows.append(
                (sbom.digest, package.purl, purl.type, purl.namespace, purl.name, purl.version)
            )
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO sbom_packages (sbom_digest, purl, purl_type, namespace, name, version)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                rows,
            )
    return True


_COLUMNS = "digest, image_id, document, components, stored_at"


def _stored(row: Any) -> StoredSbom:
    return StoredSbom(row[0], row[1], bytes(row[2]), row[3], row[4])


def load_sbom(conn: psycopg.Connection[Any], digest: str) -> StoredSbom:
    """The SBOM stored under `digest`, or SbomNotFound."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM sboms WHERE digest = %s", (digest,)).fetchone()
    if row is None:
        raise SbomNotFound(f"no SBOM is stored under {digest}")
    return _stored(row)


def sbom_for_image(conn: psycopg.Connection[Any], image_id: str) -> StoredSbom | None:
    """The SBOM most recently stored for an image, if any."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM sboms WHERE image_id = %s ORDER BY stored_at DESC, digest LIMIT 1",
        (image_id,),
    ).fetchone()
    return None if row is None else _stored(row)
