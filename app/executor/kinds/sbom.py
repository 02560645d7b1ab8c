"""An image's SBOM made, stored and recorded: for scan steps, and after builds when asked."""

from __future__ import annotations

import psycopg

from app.executor.actions.scan import make_step_sbom
from app.executor.actions.support import LogSink
from app.executor.kinds.base import RunEnv
from app.supplychain.service import MadeSbom, sbom_event
from app.supplychain.storage import store_sbom


def record_sbom(env: RunEnv, step: str, image: str, log: LogSink) -> MadeSbom:
    """Make the SBOM of `image`, store it and record SbomGenerated for `step`."""
    made = make_step_sbom(env.ctx, step, image, log)
    with psycopg.connect(env.app_url) as conn:
        store_sbom(conn, made.sbom, made.packages)
    env.record(sbom_event(made.sbom, step))
    return made
