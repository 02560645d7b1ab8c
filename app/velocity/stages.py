"""Per-stage timing of runs: queue, build, test and push, each as p50 and p90 in milliseconds.

A step's stage follows from what it is: image `docker build` is build, `docker
push` is push; test is every step that reported tests (TestsReported), or, in a
run where no step did, every other command step. A run's time in a stage is the
sum of its steps' durations in that stage (steps running side by side both
count); queue is the run's wait from RunQueued to RunClaimed. Scan and deploy
steps get their own stages once the executor has those step kinds.

The rule is applied in SQL, next to the rows, because a year of runs has too many
steps to move into Python: the stages projection (app/projections/stages.py) keeps
each run's totals by it, and app/queries/velocity.py ranks them (or, as of a past
cursor, adds the steps up itself); these names are what both use.
"""

from __future__ import annotations

from app.projections.stages import STAGE_OF_IMAGE

STAGES = ("queue", "build", "test", "push")
__all__ = ["STAGES", "STAGE_OF_IMAGE"]
