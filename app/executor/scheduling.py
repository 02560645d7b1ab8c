"""Scheduling: which step of a run goes next, which waits, and which is skipped.

Steps run in dependency order, independent ones side by side in threads up to
`parallelism`. Before a step starts its `when` is evaluated, with status
`failure` if any step it waits for (directly or not) failed; a step whose `when`
does not match is skipped. Running a step is the dispatcher's; this module only
orders them.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Literal

from app.executor.repositories import branch_of
from app.executor.stop import RunStop, stop_reason
from app.pipeline import Pipeline, Step, When, ancestors, dependencies, ready

Outcome = Literal["success", "failure", "skipped"]


def run_graph(
    pipeline: Pipeline,
    *,
    ref: str,
    trigger: str,
    parallelism: int,
    cancelled: RunStop,
    run_step: Callable[[Step], Outcome],
    skipped: Callable[[Step, str], None],
) -> str | None:
    """Run every step of a run of `ref` by `trigger`; return the first failed step's name.

    `run_step` runs a step in a worker thread; `skipped(step, reason)` records a step
    that its `when` rules out. No step starts once `cancelled` is set; an exception
    (the run was taken over, the engine went away, Ctrl-C) sets `cancelled` with the
    reason, so the steps still running stop, and say why, before it propagates.
    """
    deps = dependencies(pipeline)
    upstream = ancestors(deps)
    outcomes: dict[str, Outcome] = {}
    running: dict[str, Future[Outcome]] = {}
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        try:
            while len(outcomes) < len(pipeline.steps) and not cancelled.is_set():
                free = parallelism - len(running)
                for name in ready(set(outcomes), set(running), deps, limit=free):
                    step = pipeline.step(name)
                    failed_before = any(outcomes[a] == "failure" for a in upstream[name])
                    reason = when_rules_out(
                        step.when, ref=ref, trigger=trigger, failed_before=failed_before
                    )
                    if reason is not None:
                        skipped(step, reason)
                        outcomes[name] = "skipped"
                    else:
                        running[name] = pool.submit(run_step, step)
                if running:
                    done, _ = wait(running.values(), return_when=FIRST_COMPLETED)
                    for name in [n for n, future in running.items() if future in done]:
                        outcomes[name] = running.pop(name).result()  # may raise RunInterrupted
        except BaseException as error:
            cancelled.stop(stop_reason(error))  # stop the steps still running before the pool waits
            raise
    return next((name for name, outcome in outcomes.items() if outcome == "failure"), None)


def when_rules_out(when: When, *, ref: str, trigger: str, failed_before: bool) -> str | None:
    """Why a step with this `when` is skipped in a run of `ref` by `trigger`, or None if it runs."""
    branch = branch_of(ref)
    status = "failure" if failed_before else "success"
    if when.matches(branch=branch, event=trigger, status=status):
        return None
    # Blame the failure only if the step would have run without it: a step whose
    # branch or event does not match is skipped by its `when`, failure or not.
    if failed_before and when.matches(branch=branch, event=trigger, status="success"):
        return "an earlier step failed"
    return "its `when` does not match"
