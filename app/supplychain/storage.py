"""Storing SBOMs and scan findings content-addressed in PostgreSQL.

SBOMs: migrations/0018_sboms.sql; findings documents: migrations/0065_scan_findings.sql.

app/queries/supplychain.py reads them back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import psycopg
from packageurl import PackageURL

from app.supplychain.packages import Package
from app.supplychain.sbom import Sbom, sbom_digest
from app.supplychain.service import FindingsDocument


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


def store_findings(conn: psycopg.Connection[Any], document: FindingsDocument) -> bool:
    """Store a scan's findings document under its digest; False if it was already there."""
    if "sha256:" + hashlib.sha256(document.document).hexdigest() != document.digest:
        raise ValueError("the findings document's digest does not match its bytes")
    row = conn.execute(
        "INSERT INTO scan_findings (digest, document, findings) VALUES (%s, %s, %s)"
        " ON CONFLICT (digest) DO NOTHING RETURNING digest",
        (document.digest, document.document, document.findings),
    ).fetchone()
    return row is not None
