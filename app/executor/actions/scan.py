"""Scan steps: inventory an image into a CycloneDX SBOM, then match it against OSV advisories.

Like the other actions this touches neither the database nor the ledger: it returns
the SBOM and the scan result, and the runner stores and records them.
"""

from __future__ import annotations

from pathlib import Path

from app.executor.actions.containers import RunContext
from app.executor.actions.errors import StepFailed
from app.executor.actions.support import STEP_LABEL, LogSink, object_labels
from app.pipeline import ScanStep
from app.supplychain.imagefs import ImageUnavailable
from app.supplychain.osv import AdvisoryError
from app.supplychain.service import (
    MadeSbom,
    ScanResult,
    advisories_from,
    describe,
    describe_skipped,
    make_sbom,
    scan,
)


def make_step_sbom(ctx: RunContext, step: str, image: str, log: LogSink) -> MadeSbom:
    """The SBOM of `image` (an id or a name on the engine); StepFailed if it cannot be read."""
    labels = object_labels(ctx.labels, ctx.run_id, **{STEP_LABEL: step})
    try:
        made = make_sbom(ctx.client, image, labels)
    except ImageUnavailable as error:
        raise StepFailed(f"step {step}: {error}") from None
    counts = ", ".join(f"{n} {kind}" for kind, n in made.sbom.ecosystems.items()) or "none"
    log(f"SBOM of {made.facts.image_id}: {made.sbom.components} packages ({counts})")
    log(f"SBOM digest {made.sbom.digest}")
    return made


def scan_step_packages(
    step: ScanStep, made: MadeSbom, osv_dir: Path | None, log: LogSink
) -> ScanResult:
    """Match the SBOM's packages against the advisories in `osv_dir`; log every finding."""
    try:
        advisories = advisories_from(osv_dir)
    except AdvisoryError as error:
        raise StepFailed(f"step {step.name}: {error}") from None
    result = scan(made.facts.image_id, made.sbom.digest, made.packages, advisories)
    count = advisories.records
    log(f"{count} advisories ({advisories.digest}): {len(result.matches)} findings")
    if advisories.skipped:
        log(f"warning: {len(advisories.skipped)} advisory records could not be read, skipped:")
        for line in describe_skipped(advisories):
            log(line)
    for match in result.matches:
        log(f"  {describe(match)}")
    return result


def gate(step: ScanStep, result: ScanResult) -> None:
    """StepFailed when a finding is at or above the step's `fail_on`."""
    blocking = result.gating(step.scan.fail_on)
    if blocking:
        ids = ", ".join(sorted({m.advisory.id for m in blocking}))
        raise StepFailed(
            f"step {step.name}: {len(blocking)} finding(s) at or above {step.scan.fail_on}: {ids}"
        )
