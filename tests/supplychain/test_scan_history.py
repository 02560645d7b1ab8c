"""Scans recorded before findings were stored apart (ScanCompleted version 1) still answer."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from app.database import Database
from app.projections import projector
from events.catalogue import Metadata
from events.store import EventStore
from events.vocabulary import CATALOGUE, ScanCompleted
from tests.support.ledger_samples import insert_as_stored

IMAGE = "sha256:" + "7" * 64


def finding(advisory: str, severity: str | None) -> dict[str, Any]:
    """A finding as version 1 recorded it."""
    return {
        "advisory": advisory,
        "aliases": [f"CVE-{advisory}"],
        "package": "openssl",
        "installed_version": "3.0.11-1~deb12u1",
        "fixed_version": "3.0.11-1~deb12u2",
        "severity": severity,
        "ecosystem": "Debian:12",
        "purl": "pkg:deb/debian/openssl@3.0.11-1~deb12u1?arch=amd64&distro=debian-12",
    }


def version_1(fail_on: str | None) -> dict[str, Any]:
    """A ScanCompleted payload as schema version 1 recorded it: every finding inline."""
    return {
        "step": None,
        "image_digest": IMAGE,
        "sbom_digest": "sha256:" + "8" * 64,
        "advisory_set_digest": "sha256:" + "9" * 64,
        "advisories": 3,
        "findings": [finding("DSA-1", "critical"), finding("DSA-2", "low"), finding("X-3", None)],
        "fail_on": fail_on,
    }


def test_a_version_1_scan_reads_as_version_2_with_counts_gating_and_its_findings() -> None:
    event = CATALOGUE.decode("ScanCompleted", 1, json.dumps(version_1("high")))
    assert isinstance(event, ScanCompleted)
    assert event.findings_digest is None and event.findings_total == 3
    assert event.severities.model_dump() == {
        "critical": 1,
        "high": 0,
        "medium": 0,
        "low": 1,
        "unknown": 1,
    }
    assert [f.advisory for f in event.gating] == ["DSA-1"] and event.gating_total == 1
    assert [f.advisory for f in event.findings] == ["DSA-1", "DSA-2", "X-3"]  # nothing lost
    assert (event.skipped, event.skipped_total) == ((), 0)
    without = CATALOGUE.decode("ScanCompleted", 1, json.dumps(version_1(None)))
    assert isinstance(without, ScanCompleted) and without.gating == ()


def insert_version_1(database: Database, data: dict[str, Any]) -> None:
    """Append a version 1 ScanCompleted as the store did then (hash and all)."""
    meta = Metadata(actor="alice", source="cli").to_json()
    insert_as_stored(database, f"image-{IMAGE}", "ScanCompleted", 1, data, meta)


def test_affected_images_and_the_image_page_read_a_version_1_scans_inline_findings(
    client: TestClient, database: Database, store: EventStore
) -> None:
    insert_version_1(database, version_1("critical"))
    projector(store).catch_up_all()
    answer = client.get("/api/affected", params={"advisory": "CVE-DSA-2"})
    assert answer.status_code == 200, answer.text
    ((image,),) = [answer.json()["images"]]
    assert image["image_digest"] == IMAGE
    assert [f["advisory"] for f in image["findings"]] == ["DSA-2"]
    page = client.get(f"/images/{IMAGE}")
    assert page.status_code == 200, page.text
    assert "3 findings" in page.text and "1 at or above critical" in page.text
