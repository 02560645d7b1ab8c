"""Scan steps: the image's SBOM, matched against the OSV advisories, gated by `fail_on`."""

from __future__ import annotations

from app.executor.actions.errors import StepFailed
from app.executor.actions.scan import gate, scan_step_packages
from app.executor.actions.support import LogSink
from app.executor.kinds.base import RunEnv, StepKind, StepResult, typed_step_started
from app.executor.kinds.sbom import record_sbom
from app.pipeline import ScanStep
from events.errors import EventTooLarge


def run_scan(env: RunEnv, step: ScanStep, log: LogSink) -> StepResult:
    """Record the SBOM and ScanCompleted; fail the step on findings at or above `fail_on`."""
    spec = step.scan
    env.record(typed_step_started(step, "shiplog scan", spec.model_dump(mode="json")))
    image = env.image_id(spec.image) or env.built_steps.get(spec.image) or spec.image
    made = record_sbom(env, step.name, image, log)
    result = scan_step_packages(step, made, env.osv_dir, log)
    try:
        env.record(result.event(step.name, spec.fail_on))
    except EventTooLarge as error:
        raise StepFailed(
            f"step {step.name}: {len(result.matches)} findings do not fit in one "
            f"ScanCompleted event ({error}); raise SHIPLOG_MAX_EVENT_BYTES"
        ) from None
    gate(step, result)
    return StepResult()


SCAN = StepKind(ScanStep, run_scan)
