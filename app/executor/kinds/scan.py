"""Scan steps: the image's SBOM, matched against the OSV advisories, gated by `fail_on`."""

from __future__ import annotations

import psycopg

from app.executor.actions.scan import gate, scan_step_packages
from app.executor.actions.support import LogSink
from app.executor.kinds.base import RunEnv, StepKind, StepResult, typed_step_started
from app.executor.kinds.sbom import record_sbom
from app.pipeline import ScanStep
from app.supplychain.storage import store_findings


def run_scan(env: RunEnv, step: ScanStep, log: LogSink) -> StepResult:
    """Record the SBOM, store the findings, record ScanCompleted; fail on `fail_on` findings."""
    spec = step.scan
    env.record(typed_step_started(step, "shiplog scan", spec.model_dump(mode="json")))
    image = env.image_id(spec.image) or env.built_steps.get(spec.image) or spec.image
    made = record_sbom(env, step.name, image, log)
    result = scan_step_packages(step, made, env.osv_dir, log)
    with psycopg.connect(env.app_url) as conn:
        store_findings(conn, result.document)
    env.record(result.event(step.name, spec.fail_on))
    gate(step, result)
    return StepResult()


SCAN = StepKind(ScanStep, run_scan)
