"""Per-stage timing of runs: queue, build, test and push, each as p50 and p90 in milliseconds.

A step's stage follows from what it is: image `docker build` is build, `docker
push` is push; test is every step that reported tests (TestsReported), or, in a
run where no step did, every other command step. A run's time in a stage is the
sum of its steps' durations in that stage (steps running side by side both
count); queue is the run's wait from RunQueued to RunClaimed. Scan and deploy
steps get their own stages once the executor has those step kinds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from app.velocity.stats import Summary, summarize

STAGES = ("queue", "build", "test", "push")
STAGE_OF_IMAGE = {"docker build": "build", "docker push": "push"}


@dataclass(frozen=True)
class StepTiming:
    """One finished step of a run: what it ran, how long, whether it reported tests."""

    run_id: str
    image: str | None
    duration_ms: int
    tested: bool


def stage_of(step: StepTiming, run_has_tests: bool) -> str | None:
    """The stage `step` belongs to; None for a command step of a run whose tests are elsewhere."""
    kind = STAGE_OF_IMAGE.get(step.image or "")
    if kind is not None:
        return kind
    if step.tested or not run_has_tests:
        return "test"
    return None


def stage_timings(queue_waits: Iterable[int], steps: Iterable[StepTiming]) -> dict[str, Summary]:
    """Stage → Summary of per-run milliseconds, for the runs `steps` belong to."""
    by_run: dict[str, list[StepTiming]] = defaultdict(list)
    for step in steps:
        by_run[step.run_id].append(step)
    per_stage: dict[str, list[float]] = {stage: [] for stage in STAGES}
    per_stage["queue"] = [float(ms) for ms in queue_waits]
    for run_steps in by_run.values():
        has_tests = any(step.tested for step in run_steps)
        totals: dict[str, float] = defaultdict(float)
        for step in run_steps:
            stage = stage_of(step, has_tests)
            if stage is not None:
                totals[stage] += step.duration_ms
        for stage, total in totals.items():
            per_stage[stage].append(total)
    return {stage: summarize(values) for stage, values in per_stage.items()}
