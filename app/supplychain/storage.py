"""Storing SBOMs content-addressed in PostgreSQL (migrations/0018_sboms.sql).

app/queries/supplychain.py reads them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from packageurl import PackageURL

from app.supplychain.packages import Package
from app.supplychain.sbom import Sbom, sbom_digest


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
