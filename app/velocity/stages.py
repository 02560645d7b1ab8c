"""Per-stage timing of runs: queue, build, test and push, each as p50 and p90 in milliseconds.

A step's stage follows from what it is: image `docker build` is build, `docker
push` is push; test is every step that reported tests (TestsReported), or, in a
run where no step did, every other command step. A run's time in a stage is the
sum of its steps' durations in that stage (steps running side by side both
count); queue is the run's wait from RunQueued to RunClaimed. Scan and deploy
steps get their own stages once the executor has those step kinds.

The rule is applied in SQL (app/queries/velocity.py `_stages`), next to the rows,
because a year of runs has too many steps to move into Python; these names are
what it uses.
"""

from __future__ import annotations

STAGES = ("queue", "build", "test", "push")
STAGE_OF_IMAGE = {"docker build": "build", "docker push": "push"}
