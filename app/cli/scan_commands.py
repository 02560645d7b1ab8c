"""Supply chain: `shiplog scan IMAGE` scans (or re-scans) an image against OSV advisories."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.context import open_store, prepare
from app.engine import connect
from app.pipeline.fields import Severity
from app.services.scans import scan_image
from app.supplychain.matching import Match
from app.supplychain.service import describe, describe_skipped
from events.catalogue import Metadata


def register(app: typer.Typer) -> None:
    """Add the supply-chain commands to `app`."""
    app.command("scan")(scan_image_command)


def scan_image_command(
    image: Annotated[
        str, typer.Argument(help="An image id (`sha256:<hex>`) or a name on the Docker engine.")
    ],
    osv_dir: Annotated[
        Path | None,
        typer.Option(help="OSV advisory directory (default: SHIPLOG_OSV_DIR)."),
    ] = None,
    fail_on: Annotated[
        Severity | None,
        typer.Option(help="Exit 1 if a finding is this severe or graver."),
    ] = None,
) -> None:
    """Scan an image against the OSV advisories and record ScanCompleted in `image-<id>`.

    An image whose SBOM is stored is re-scanned from it (no rebuild, no engine needed);
    otherwise the image is read from the engine and its SBOM stored first.
    """
    context = prepare()
    metadata = Metadata(actor=context.settings.whoami(), source="cli")
    with open_store(context) as store:
        done = scan_image(
            store,
            image,
            osv_dir=osv_dir or context.settings.osv_dir,
            metadata=metadata,
            connect=connect,
            fail_on=fail_on,
        )
    result = done.result
    made = "made and stored" if done.sbom_made else "stored"
    typer.echo(f"image {result.image_id}: SBOM {result.sbom_digest} ({made})")
    typer.echo(
        f"advisory set {result.advisories.digest} ({result.advisories.records} "
        f"advisories): {len(result.matches)} finding(s)"
    )
    if result.advisories.skipped:
        count = len(result.advisories.skipped)
        typer.echo(f"warning: {count} advisory record(s) could not be read, skipped:", err=True)
        for line in describe_skipped(result.advisories):
            typer.echo(line, err=True)
    for match in result.matches:
        typer.echo(f"  {describe(match)}")
    blocking: list[Match] = result.gating(fail_on)
    if blocking:
        typer.echo(f"{len(blocking)} finding(s) at or above {fail_on}", err=True)
        raise typer.Exit(1)
