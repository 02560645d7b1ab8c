"""Projection benchmark: rebuilding every projection beside a bare read, and query latencies.

    .venv/bin/python -m bench.projections [--events 1000000] [--reps 50]

One database on the server SHIPLOG_BENCH_DATABASE_URL names (else shiplog's embedded
server under .bench-home/) is filled by COPY with a generated history of about
`--events` events spread over a year: runs (queued, claimed, four steps, an image
built with its base, labels and build arguments, tests, two pushes, an outcome),
with deployments to three environments and incidents. Then, in one process run:

1. a bare decoded read of every event (EventStore.read_all, pages of 1000): the baseline;
2. `projections rebuild` of every projection, as events/s of the ledger, and its ratio
   to the baseline (target >= 0.3 and >= 20,000 events/s);
3. p50/p95 server time of the audit query (GET /api/events's service) with each filter,
   and of the image questions, over `--reps` calls each (target p95 < 20 ms), and of a
   one-year velocity report over the production environments (target p95 < 300 ms).

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from time import perf_counter
from typing import Any

import psycopg

from app.database import login_as
from app.projections import PROJECTIONS, projector
from app.queries.deployments import RUNS
from app.queries.dora import folded_deployments
from app.queries.images import find_image, images_from_commit, images_on_base, images_with_label
from app.queries.velocity import (
    STAGES_PROJECTION,
    dora_inputs,
    stage_timing_from_steps,
    stage_timing_from_totals,
    window_report,
)
from app.velocity.metrics import Window
from bench.ledger import APP_ROLE, COPY_EVENTS, Row, Server, copy_text, make_row, settle
from bench.server import bench_admin_url
from bench.velocity_baseline import former_dora_inputs
from events.catalogue import Event, Metadata
from events.lookups import EventQuery
from events.projections import current_tables
from events.store import START, EventStore
from events.vocabulary import (
    BaseImage,
    DeploymentStarted,
    DeploymentSucceeded,
    ImageBuilt,
    ImagePushed,
    IncidentOpened,
    RunClaimed,
    RunQueued,
    RunSucceeded,
    StepFinished,
    StepStarted,
    TestsReported,
)

YEAR = timedelta(days=365)
START_AT = datetime(2025, 11, 1, tzinfo=UTC)
SERVICES = ("web", "api", "worker", "billing", "search", "auth")
BASES = tuple(f"sha256:{n:064x}" for n in range(1, 9))


def run_events(n: int, chance: random.Random) -> list[Event]:
    """The 13 events of one successful run number `n`."""
    service = SERVICES[n % len(SERVICES)]
    commit, image = f"{n:040x}", f"sha256:{n:064x}"
    events: list[Event] = [
        RunQueued(
            repository=f"https://git.example/acme/{service}.git", commit=commit,
            ref="refs/heads/main", trigger="push", pipeline_path=".shiplog.yml",
            pipeline_digest="sha256:" + "c" * 64,
        ),
        RunClaimed(runner=f"runner-{n % 4}", runner_version="0.1.0"),
    ]  # fmt: skip
    for step in ("build", "test", "push"):
        events.append(
            StepStarted(step=step, image="busybox:1", commands_digest="sha256:" + "a" * 64)
        )
        if step == "build":
            events.append(
                ImageBuilt(
                    step="build", image_id=image,
                    base_images=(BaseImage(name="debian:12", digest=chance.choice(BASES)),),
                    dockerfile_sha256="e" * 64, context_digest="sha256:" + "f" * 64,
                    build_args={"VERSION": str(n)},
                    labels={"org.opencontainers.image.revision": commit, "team": service},
                    tags=(f"{service}:latest",),
                )
            )  # fmt: skip
        if step == "test":
            events.append(TestsReported(step="test", passed=120, failed=0, skipped=3,
                                        report_sha256="d" * 64))  # fmt: skip
        if step == "push":
            events += [
                ImagePushed(step="push", repository=f"registry.example/acme/{service}",
                            tag=tag, digest=f"sha256:e{n:063x}", image_id=image)
                for tag in ("latest", str(n))
            ]  # fmt: skip
        events.append(StepFinished(step=step, exit_code=0, duration_ms=chance.randint(500, 90_000),
                                   log_sha256="b" * 64, log_lines=40))  # fmt: skip
    events.append(RunSucceeded(duration_ms=chance.randint(10_000, 200_000)))
    return events


def history_rows(total: int, seed: int = 1) -> Iterator[Row]:
    """About `total` rows: runs 50 at a time interleaved, a deployment after every 4th run."""
    chance = random.Random(seed)
    runs = max(1, total // 14)
    env_versions: dict[str, int] = {}
    for group in range(0, runs, 50):
        numbers = range(group, min(group + 50, runs))
        at = START_AT + YEAR * group / runs
        plans = {n: run_events(n, chance) for n in numbers}
        for version in range(len(plans[group])):
            for n in numbers:
                meta = Metadata(actor=f"runner-{n % 4}@ci", correlation_id=f"run-{n}")
                yield _row(f"run-{n}", version, plans[n][version], meta, at)
        for n in numbers[::4]:
            env = ("staging", "production", "production-eu")[n % 3]
            meta = Metadata(actor=f"deployer-{n % 5}", correlation_id=f"run-{n}")
            service = SERVICES[n % len(SERVICES)]
            deployed: list[Event] = [
                DeploymentStarted(deployment_id=f"d{n}", service=service,
                                  image_digest=f"sha256:e{n:063x}", run_id=str(n)),
                DeploymentSucceeded(deployment_id=f"d{n}", service=service,
                                    image_digest=f"sha256:e{n:063x}"),
            ]  # fmt: skip
            if n % 40 == 0:
                deployed.append(
                    IncidentOpened(environment=env, service=service, summary="errors up",
                                   caused_by_deployment=f"d{n}")
                )  # fmt: skip
            for event in deployed:
                stream = f"incident-{n}" if isinstance(event, IncidentOpened) else f"env-{env}"
                version = env_versions.get(stream, 0)
                env_versions[stream] = version + 1
                yield _row(stream, version, event, meta, at)


def _row(stream: str, version: int, event: Event, meta: Metadata, at: datetime) -> Row:
    """The events row of `event`, recorded at `at`."""
    data = event.model_dump(mode="json")
    return make_row(
        stream, version, data, meta,
        type_name=event.type_name, schema_version=event.schema_version, at=at,
    )[0]  # fmt: skip


def fill(owner_url: str, total: int) -> int:
    """COPY the generated history into `events`; how many rows."""
    count = 0
    rows = history_rows(total)
    with psycopg.connect(owner_url, autocommit=True) as conn:
        # One transaction per 2,000 rows, so the ledger has many writing transactions
        # (tx_id values) like a real one, not one huge COPY.
        while chunk := [row for _, row in zip(range(2_000), rows, strict=False)]:
            with conn.transaction(), conn.cursor().copy(COPY_EVENTS) as copy:
                copy.write(copy_text(chunk))
            count += len(chunk)
    settle(owner_url)
    return count


def read_rate(store: EventStore) -> tuple[float, int]:
    """events/s of reading and decoding every event in pages of 1000; and how many."""
    began, count, cursor = perf_counter(), 0, START
    while page := store.read_all(cursor, 1000):
        count += len(page)
        cursor = page[-1].cursor
    return count / (perf_counter() - began), count


def latencies(call: Callable[[], object], reps: int) -> dict[str, float]:
    """p50 and p95 of `call` in milliseconds, after two warm-up calls."""
    call(), call()
    times = []
    for _ in range(reps):
        began = perf_counter()
        call()
        times.append((perf_counter() - began) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2)}  # fmt: skip


def query_cases(store: EventStore, runs: int, reps: int) -> dict[str, dict[str, float]]:
    """Latency of each audit filter and each image question."""
    chance = random.Random(3)
    middle = START_AT + YEAR / 2
    year = Window(START_AT, START_AT + YEAR)

    def audit(**filters: Any) -> Callable[[], object]:
        return lambda: store.page(EventQuery(**filters))

    def image(ask: Callable[[EventStore], object]) -> Callable[[], object]:
        return lambda: ask(store)

    def on_conn(ask: Callable[[psycopg.Connection[Any]], object]) -> Callable[[], object]:
        def call() -> object:
            with store.connection() as conn:
                return ask(conn)

        return call

    def former_inputs(conn: psycopg.Connection[Any]) -> object:
        with former_dora_inputs():
            return dora_inputs(conn, ("production", "production-eu"), None, None, set())

    def some_run() -> int:
        return chance.randrange(runs)

    cases: dict[str, Callable[[], object]] = {
        "audit: stream": lambda: audit(stream=f"run-{some_run()}")(),
        "audit: category env": audit(category="env"),
        "audit: type ImagePushed": audit(types=("ImagePushed",)),
        "audit: actor": audit(actor="deployer-3"),
        "audit: correlation": lambda: audit(correlation=f"run-{some_run()}")(),
        "audit: one day": audit(since=middle, until=middle + timedelta(days=1)),
        "audit: type + time": audit(types=("DeploymentSucceeded",), since=middle),
        "image by digest": lambda: image(lambda c: find_image(c, f"sha256:e{some_run():063x}"))(),
        "images from commit": lambda: image(
            lambda c: images_from_commit(c, f"{some_run():040x}")
        )(),
        "images with label": image(lambda c: images_with_label(c, "team", "billing")),
        "images on base, a page": image(lambda c: images_on_base(c, BASES[0])),
        "velocity, one year": on_conn(
            lambda c: window_report(c, year, ("production", "production-eu"))
        ),
        # The stage timing alone, both ways: from the stages projection's per-run
        # totals (what the report uses) and from every step (the former way, kept
        # for reports as of a past cursor).
        "velocity stages, totals": on_conn(
            lambda c: stage_timing_from_totals(
                c,
                current_tables(c, RUNS),
                current_tables(c, STAGES_PROJECTION)["run_stages"],
                year,
                None,
            )
        ),
        # The DORA part's inputs both ways: read from the dora projection's folded
        # rows (what the live report uses) and folded from the deployments
        # projection's histories (the former way, kept for reports as of a cursor).
        "velocity dora inputs, folded": on_conn(
            lambda c: folded_deployments(c, ("production", "production-eu"), None, set())
        ),
        "velocity dora inputs, former": on_conn(former_inputs),
        "velocity stages, steps": on_conn(
            lambda c: stage_timing_from_steps(c, current_tables(c, RUNS), year, None, None)
        ),
    }
    return {name: latencies(call, reps) for name, call in cases.items()}


def main(argv: list[str] | None = None) -> None:
    """Fill a database, measure, print a table and the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.projections", description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="history size")
    parser.add_argument("--reps", type=int, default=50, help="calls per query latency")
    args = parser.parse_args(argv)
    admin_url = bench_admin_url()
    server = Server(admin_url)
    started = perf_counter()
    try:
        with server.database() as owner_url:
            print(f"... generating and loading about {args.events:,} events", flush=True)
            loaded = fill(owner_url, args.events)
            with EventStore(login_as(owner_url, APP_ROLE)) as store:
                print("... bare decoded read", flush=True)
                read, count = read_rate(store)
                print("... rebuild of every projection", flush=True)
                began = perf_counter()
                folded = projector(store).rebuild()
                rebuild_seconds = perf_counter() - began
                rebuild = count / rebuild_seconds
                # What autovacuum does within a minute of a rebuild; measured queries
                # then see the planner statistics a running server has.
                with psycopg.connect(owner_url, autocommit=True) as conn:
                    conn.execute("ANALYZE")
                print("... queries", flush=True)
                queries = query_cases(store, loaded // 14, args.reps)
    finally:
        server.close()
    print()
    print(f"events: {count:,}; projections: {', '.join(p.name for p in PROJECTIONS)}")
    print(f"bare decoded read     {read:>10,.0f} events/s")
    print(f"rebuild, all          {rebuild:>10,.0f} events/s   ratio {rebuild / read:.2f} "
          "(target >= 0.3 and >= 20,000/s)")  # fmt: skip
    for name, figures in queries.items():
        print(f"{name:<30} p50 {figures['p50_ms']:>7.2f} ms   p95 {figures['p95_ms']:>7.2f} ms")
    for new, old in (
        ("velocity dora inputs, folded", "velocity dora inputs, former"),
        ("velocity stages, totals", "velocity stages, steps"),
    ):
        print(f"ratio {new} / {old}: p50 "
              f"{queries[new]['p50_ms'] / queries[old]['p50_ms']:.2f}, p95 "
              f"{queries[new]['p95_ms'] / queries[old]['p95_ms']:.2f}")  # fmt: skip
    report = {
        "events": count, "read_per_s": round(read), "rebuild_per_s": round(rebuild),
        "rebuild_ratio": round(rebuild / read, 3), "rebuild_seconds": round(rebuild_seconds, 1),
        "folded": folded, "queries": queries, "cpus": os.cpu_count(),
        "python": platform.python_version(), "seconds": round(perf_counter() - started, 1),
        "loadavg": os.getloadavg(),
    }  # fmt: skip
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
