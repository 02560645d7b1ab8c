"""Stage timing from the stages projection's per-run totals equals adding up every step.

Generated runs (seeded) with every shape the rule distinguishes: build and push
steps, tested and untested command steps, a step started twice with different
images, steps never finished or finished without a duration, a finish with no
start, test reports arriving after the run ended, failed, cancelled and unfinished
runs, two repositories. Their events are appended in many interleaved
transactions and folded live in small batches; the report's two ways of ranking
stage timing must then agree for windows cut exactly at runs' queue times.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from app.projections import PROJECTIONS, projector
from app.queries import deployments as q
from app.queries.velocity import (
    STAGES_PROJECTION,
    stage_timing,
    stage_timing_from_steps,
    stage_timing_from_totals,
    window_report,
)
from app.velocity.metrics import Window
from events.catalogue import Event, Metadata
from events.projections import current_tables, table_checksums
from events.store import ANY, START, EventStore
from events.vocabulary import (
    RunCancelled,
    RunClaimed,
    RunFailed,
    RunQueued,
    RunSucceeded,
    StepFinished,
    StepStarted,
    TestsReported,
)

BOT = Metadata(actor="ci@example.com")
DIGEST = "sha256:" + "a" * 64
IMAGES = ("docker build", "docker push", "busybox", "python:3.12")
REPOSITORIES = ("https://git.example/acme/web.git", "https://git.example/acme/api.git")


def run_plan(chance: random.Random, n: int) -> tuple[list[Event], list[Event]]:
    """One run's events in order, and those held back to arrive after its end."""
    events: list[Event] = [
        RunQueued(
            repository=REPOSITORIES[n % 2], commit=f"{n:040x}", ref="refs/heads/main",
            trigger="push", pipeline_path=".shiplog.yml", pipeline_digest="sha256:" + "c" * 64,
        ),
        RunClaimed(runner="r", runner_version="1"),
    ]  # fmt: skip
    late: list[Event] = []
    for index in range(chance.randint(0, 5)):
        step = f"s{index}"
        if chance.random() < 0.9:
            events.append(
                StepStarted(step=step, image=chance.choice(IMAGES), commands_digest=DIGEST)
            )
        if chance.random() < 0.15:  # started again, elsewhere: the last start's image counts
            events.append(
                StepStarted(step=step, image=chance.choice(IMAGES), commands_digest=DIGEST)
            )
        if chance.random() < 0.35:
            report = TestsReported(step=step, passed=1, failed=0, skipped=0, report_sha256="d" * 64)
            (late if chance.random() < 0.3 else events).append(report)
        if chance.random() < 0.85:
            duration = None if chance.random() < 0.1 else chance.randint(1, 60_000)
            events.append(
                StepFinished(
                    step=step, exit_code=0, duration_ms=duration, log_sha256="b" * 64, log_lines=1
                )
            )
    ending = chance.random()
    if ending < 0.6:
        events.append(RunSucceeded(duration_ms=1000))
    elif ending < 0.8:
        events.append(RunFailed(reason="a step failed", step="s0"))
    elif ending < 0.9:
        events.append(RunCancelled(reason="stopped"))
    return events, late


def write_runs(store: EventStore, count: int, seed: int) -> None:
    """`count` generated runs, a few events per transaction, runs interleaved."""
    chance = random.Random(seed)
    pending = {f"run-{seed}-{n}": run_plan(chance, n) for n in range(count)}
    queues = {stream: list(events) for stream, (events, _) in pending.items()}
    while queues:
        stream = chance.choice(sorted(queues))
        take = chance.randint(1, 3)
        store.append(stream, queues[stream][:take], ANY, BOT)
        del queues[stream][:take]
        if not queues[stream]:
            del queues[stream]
    for stream, (_, late) in sorted(pending.items()):
        if late:
            store.append(stream, late, ANY, BOT)


def queue_times(store: EventStore) -> list[datetime]:
    """Every run's queue time, in order."""
    with store.connection() as conn:
        return [r[0] for r in conn.execute("SELECT queued_at FROM proj_runs_v1 ORDER BY 1")]


def test_totals_rank_the_same_samples_as_the_steps_for_windows_cut_at_queue_times(
    store: EventStore,
) -> None:
    write_runs(store, 60, seed=11)
    folding = projector(store)
    for projection in PROJECTIONS:
        folding.catch_up(projection, batch=7)  # live, in small batches
    times = queue_times(store)
    edges = [times[0], times[len(times) // 3], times[len(times) // 2], times[-1]]
    windows = [Window(a, b) for a in edges for b in edges if a < b]
    windows.append(Window(times[0], times[-1] + timedelta(microseconds=1)))
    with store.connection() as conn:
        runs = current_tables(conn, q.RUNS)
        totals = current_tables(conn, STAGES_PROJECTION)["run_stages"]
        for window in windows:
            for repositories in (None, [REPOSITORIES[0]], []):
                from_totals = stage_timing_from_totals(conn, runs, totals, window, repositories)
                from_steps = stage_timing_from_steps(conn, runs, window, repositories, None)
                assert from_totals == from_steps, (window, repositories)
        whole = stage_timing_from_totals(conn, runs, totals, windows[-1], None)
    assert {stage: summary.count > 0 for stage, summary in whole.items()} == {
        "queue": True, "build": True, "test": True, "push": True,
    }  # fmt: skip


def test_rebuilt_totals_equal_the_live_ones_and_the_report_as_of_now_adds_up_steps(
    store: EventStore,
) -> None:
    write_runs(store, 30, seed=5)
    folding = projector(store)
    folding.catch_up_all(batch=3)
    with store.connection() as conn:
        live = table_checksums(conn, STAGES_PROJECTION)
    folding.rebuild("stages")
    times = queue_times(store)
    window = Window(times[0], times[-1] + timedelta(microseconds=1))
    head = store.read_all(START, 10_000)[-1].cursor
    with store.connection() as conn:
        assert table_checksums(conn, STAGES_PROJECTION) == live
        now = window_report(conn, window, ("production",))
        as_of_head = window_report(conn, window, ("production",), as_of=head)
        assert now.stages == as_of_head.stages
        assert stage_timing(conn, window, None, None) == now.stages
