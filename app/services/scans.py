"""Scans outside a run (`shiplog scan`): find or make the SBOM, match it, record it.

Such scans are recorded in the image's own stream, `image-<image id>`, so re-scans
of an old image against newer advisories accumulate there without a run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.queries.supplychain import sbom_of
from app.supplychain.imagefs import image_facts
from app.supplychain.sbom import read_packages
from app.supplychain.service import ScanResult, advisories_from, make_sbom, sbom_event, scan
from app.supplychain.storage import store_findings, store_sbom
from events.catalogue import Metadata
from events.store import ANY, EventStore
from events.streams import stream_name

IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")


def image_stream(image_id: str) -> str:
    """The stream of scans of an image made outside runs."""
    return stream_name("image", image_id)


@dataclass(frozen=True)
class ImageScan:
    """A scan recorded outside a run, and whether its SBOM was made for it."""

    result: ScanResult
    sbom_made: bool


def scan_image(
    store: EventStore,
    ref: str,
    *,
    osv_dir: Path | None,
    metadata: Metadata,
    connect: Callable[[], Any],
    fail_on: str | None = None,
) -> ImageScan:
    """Scan an image by digest (its stored SBOM, no engine needed) or by name (on the engine).

    The digest is the image id or a manifest digest a run pushed it as.

    An image id whose SBOM is stored is re-scanned from that SBOM, so an old image is
    scanned against a newer advisory set without being rebuilt or even present. The
    advisories are loaded first: a bad advisory file records nothing.
    """
    advisories = advisories_from(osv_dir)
    made_now = False
    image_id = ref
    stored = sbom_of(store, ref) if IMAGE_ID.fullmatch(ref) else None
    if stored is None:
        client = connect()
        image_id = image_facts(client, ref).image_id
        stored = sbom_of(store, image_id)
    if stored is None:
        made = make_sbom(client, image_id)
        with store.connection() as conn:
            store_sbom(conn, made.sbom, made.packages)
        store.append(image_stream(image_id), [sbom_event(made.sbom)], ANY, metadata)
        packages, digest, made_now = made.packages, made.sbom.digest, True
    else:
        image_id, packages = read_packages(stored.document)
        digest = stored.digest
    result = scan(image_id, digest, packages, advisories)
    with store.connection() as conn:
        store_findings(conn, result.document)
    store.append(image_stream(image_id), [result.event(fail_on=fail_on)], ANY, metadata)
    return ImageScan(result, made_now)
