"""Web page benchmark: server time of the timeline, run, image and velocity pages at scale.

    .venv/bin/python -m bench.web [--events 1000000] [--requests 200]

Loads a fresh database (bench.ledger's Server: SHIPLOG_BENCH_DATABASE_URL or the
embedded server under .bench-home/) with --events realistic events: runs of 14
events each (queued, claimed, four steps, an image built, tests, a push, success),
their streams interleaved 500 at a time, every tenth run deployed to production,
recorded_at spread over the last 90 days, committed 10,000 rows per transaction.
Then the projections are folded (timed) and every page is requested --requests
times in this process through FastAPI's TestClient; the figure is the server's
time, taken inside the ASGI application from the request's arrival to the last
byte of its response (so the test client's own thread hops are not counted).

Each page runs beside its baseline, alternating, so drift hits both alike: for the
timeline the bare SQL of the same keyset page, for the other pages the service
call the page is built on (find_image, environment_history, the velocity report), so
the ratio says what the page (its HTTP handling, other look-ups and HTML) adds. The
target is p95 < 50 ms for the three timeline pages.

The velocity page keeps its report per window until anything is folded, so it is also
measured "after a fold": before each request (untimed) one more rollout is appended
and folded. Its baseline is the same report computed as main did before the dora
projection (every deployment event folded in Python per request).

The environment's state is then measured before and after its snapshot
(app/delivery/snapshots.py), alternating in the same run: the environment page with
snapshots in use and with them switched off (the whole `env-production` stream folded
on each request, as before they existed), and `Desk.state` (`read_state`) beside the
whole stream folded (`read_environment`); the ratio is after ÷ before.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any
from unittest import mock

import psycopg
from fastapi.testclient import TestClient

from app.config import Settings
from app.database import login_as
from app.delivery import snapshots
from app.delivery.ledger import read_environment
from app.projections import projector
from app.queries.environments import environment_history
from app.queries.images import find_image
from app.queries.velocity import velocity_report
from app.server import create_app
from bench.ledger import COPY_EVENTS, SEP, Server, copy_text, settle
from bench.server import bench_admin_url
from bench.velocity_baseline import former_dora_inputs
from events.canonical import canonical_json, event_document
from events.catalogue import Event, Metadata
from events.merkle import leaf_hash
from events.store import ANY, EventStore
from events.vocabulary import (
    BaseImage,
    DeploymentStarted,
    DeploymentSucceeded,
    ImageBuilt,
    ImagePushed,
    RunClaimed,
    RunQueued,
    RunSucceeded,
    StepFinished,
    StepStarted,
    TestsReported,
)

STEPS = ("build", "test", "lint", "push")
PER_RUN = 14
GROUP = 500
CHUNK = 10_000
DAYS = 90
TARGET_MS = 50.0


def h(text: str) -> str:
    """Hex sha256 of `text`."""
    return hashlib.sha256(text.encode()).hexdigest()


def run_events(n: int) -> list[Event]:
    """The 14 events of run number `n`."""
    commit = h(f"commit-{n}")[:40]
    digest = "sha256:" + h(f"digest-{n}")
    events: list[Event] = [
        RunQueued(repository=f"https://git.example/acme/app{n % 20}.git", commit=commit,
                  ref="refs/heads/main", trigger="push", pipeline_path=".shiplog.yml",
                  pipeline_digest="sha256:" + h("pipeline")),
        RunClaimed(runner=f"ci-{n % 8}", runner_version="0.1.0"),
    ]  # fmt: skip
    for i, step in enumerate(STEPS):
        events.append(StepStarted(step=step, image="busybox", commands_digest="sha256:" + h(step)))
        if step == "build":
            events.append(
                ImageBuilt(
                    step="build",
                    image_id="sha256:" + h(f"image-{n}"),
                    base_images=(BaseImage(name="debian", digest="sha256:" + h("d")),),
                    dockerfile_sha256=h("df"),
                    context_digest="sha256:" + h(f"ctx-{n}"),
                    build_args={},
                    labels={"org.opencontainers.image.revision": commit},
                    tags=(f"app{n % 20}:{n}",),
                )
            )
        if step == "test":
            events.append(TestsReported(step="test", passed=40, failed=0, skipped=1,
                                        report_sha256=h(f"r-{n}")))  # fmt: skip
        if step == "push":
            events.append(ImagePushed(step="push", repository=f"registry.example/acme/app{n % 20}",
                                      tag=str(n), digest=digest,
                                      image_id="sha256:" + h(f"image-{n}")))  # fmt: skip
        events.append(StepFinished(step=step, exit_code=0, duration_ms=500 + (n * 31 + i) % 90_000,
                                   log_sha256=h(f"log-{n}-{i}"), log_lines=20))  # fmt: skip
    events.append(RunSucceeded(duration_ms=100_000 + n % 60_000))
    return events


def deploy_events(n: int) -> list[Event]:
    """A deployment of run `n`'s image to production."""
    digest, dep = "sha256:" + h(f"digest-{n}"), f"dep-{n}"
    return [
        DeploymentStarted(deployment_id=dep, service=f"app{n % 20}", image_digest=digest),
        DeploymentSucceeded(deployment_id=dep, service=f"app{n % 20}", image_digest=digest),
    ]


def row(stream: str, version: int, event: Event, meta: Metadata, at: datetime) -> tuple[Any, ...]:
    """A valid events row for `event`."""
    data, meta_json = event.model_dump(mode="json"), meta.to_json()
    name = type(event).__name__
    document = event_document(stream=stream, version=version, event_id=uuid.uuid4(),
                              type_name=name, schema_version=event.schema_version, data=data,
                              metadata=meta_json, recorded_at=at)  # fmt: skip
    return (stream, version, document["event_id"], name, event.schema_version,
            json.dumps(data, separators=SEP), json.dumps(meta_json, separators=SEP), at,
            leaf_hash(canonical_json(document)))  # fmt: skip


def generate(total: int) -> Iterator[tuple[Any, ...]]:
    """About `total` rows: runs interleaved GROUP at a time, deployments after every tenth."""
    runs = max(1, total // (PER_RUN + 0.2))
    start = datetime.now(UTC) - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / (runs * (PER_RUN + 0.2))
    clock, env_version, produced = start, 0, 0
    for first in range(0, int(runs), GROUP):
        batch = range(first, min(int(runs), first + GROUP))
        lanes = {n: run_events(n) for n in batch}
        for version in range(PER_RUN):
            for n in batch:
                meta = Metadata(actor=f"dev{n % 50}@example.com", correlation_id=f"{n:032x}")
                stream = f"run-{uuid.UUID(int=n)}"
                yield row(stream, version, lanes[n][version], meta, clock)
                clock += step
                produced += 1
        for n in batch:
            if n % 10 == 0:
                for event in deploy_events(n):
                    yield row("env-production", env_version, event,
                              Metadata(actor="deployer", source="bench"), clock)  # fmt: skip
                    env_version += 1
                    clock += step


def load(owner_url: str, total: int) -> int:
    """COPY the generated rows, CHUNK per transaction; the number of rows."""
    rows, count = generate(total), 0
    with psycopg.connect(owner_url) as conn:
        while chunk := [r for _, r in zip(range(CHUNK), rows, strict=False)]:
            with conn.transaction(), conn.cursor().copy(COPY_EVENTS) as copy:
                copy.write(copy_text(chunk))
            count += len(chunk)
    return count


class ServerClock:
    """ASGI wrapper: the time from a request's arrival to its last body byte sent (ms)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last_ms = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Pass the request through, noting when the response ends."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last_ms = (perf_counter() - started) * 1000

        await self.app(scope, receive, timed_send)


def timed(fn: Callable[[], Any]) -> float:
    """Milliseconds one call of `fn` takes."""
    started = perf_counter()
    fn()
    return (perf_counter() - started) * 1000


def p95(samples: list[float]) -> float:
    """The 95th percentile of `samples`."""
    return statistics.quantiles(samples, n=20)[-1]


def measure(
    client: TestClient,
    clock: ServerClock,
    url: str,
    baseline: Callable[[], Any],
    n: int,
    status: int = 200,
    before: Callable[[], object] | None = None,
) -> dict[str, Any]:
    """p50/p95 server time of the page and of its baseline, alternating; checks the status.

    `before` (untimed) runs before each request of the page.
    """
    page_ms, base_ms = [], []
    for _ in range(n):
        if before is not None:
            before()
        response = client.get(url)
        assert response.status_code == status, (url, response.text[:300])
        page_ms.append(clock.last_ms)
        base_ms.append(timed(baseline))
    page, base = p95(page_ms), p95(base_ms)
    return {"url": url, "p50_ms": round(statistics.median(page_ms), 2), "p95_ms": round(page, 2),
            "baseline_p95_ms": round(base, 2), "ratio": round(page / base, 2)}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Load, fold, measure, print a table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--only",
        default="",
        help="measure only the cases whose name contains this text (e.g. 'environment')",
    )
    args = parser.parse_args(argv)

    admin = bench_admin_url()
    server = Server(admin)
    try:
        with server.database() as owner_url:
            run_bench(owner_url, args.events, args.requests, args.only)
    finally:
        server.close()


def run_bench(owner_url: str, events: int, requests: int, only: str = "") -> None:
    """Everything against one loaded database."""
    started = perf_counter()
    loaded = load(owner_url, events)
    settle(owner_url)
    print(f"loaded {loaded} events in {perf_counter() - started:.1f} s", flush=True)
    app_url = login_as(owner_url, "shiplog_app")
    with EventStore(app_url) as store:
        started = perf_counter()
        folded = projector(store).catch_up_all(batch=5000)
        print(f"projections folded {folded} in {perf_counter() - started:.1f} s", flush=True)
    settle(owner_url)
    # Reads open to all: the figures stay comparable with those taken before sign-in existed.
    settings = Settings(
        home=Path("/tmp/shiplog-bench-web"),
        database_url=app_url,
        public_read=True,
        allowed_hosts=("testserver",),
    )
    clock = ServerClock(create_app(settings))
    with (
        TestClient(clock, follow_redirects=False) as client,
        psycopg.connect(app_url, autocommit=True) as conn,
        EventStore(app_url) as store,
    ):
        results = cases(client, clock, store, conn, requests, only)
        results += snapshot_cases(client, clock, store, requests, only)
    width = max(len(r["case"]) for r in results)
    print(f"{'case':<{width}}  p50 ms  p95 ms  base p95  ratio  target")
    for r in results:
        target = f"< {TARGET_MS:.0f} ms" if r["case"].startswith("timeline") else ""
        print(f"{r['case']:<{width}}  {r['p50_ms']:6.1f}  {r['p95_ms']:6.1f}  "
              f"{r['baseline_p95_ms']:8.1f}  {r['ratio']:5.2f}  {target}")  # fmt: skip
    print(json.dumps({"events": loaded, "results": results}))


def cases(
    client: TestClient,
    clock: ServerClock,
    store: EventStore,
    conn: psycopg.Connection[Any],
    n: int,
    only: str = "",
) -> list[dict[str, Any]]:
    """Every page (whose case name contains `only`) against its baseline query."""
    visible = "tx_id < pg_snapshot_xmin(pg_current_snapshot())"
    newest = f"SELECT * FROM events WHERE {visible} ORDER BY tx_id DESC, position DESC LIMIT 51"
    (count,) = conn.execute("SELECT count(*) FROM events").fetchone() or (0,)
    deep_row = conn.execute(  # 90% of the way from the newest event to the oldest
        f"SELECT tx_id::text AS tx, position FROM events WHERE {visible} "
        "ORDER BY tx_id, position OFFSET %s LIMIT 1",
        (count // 10,),
    ).fetchone()
    assert deep_row is not None
    deep = f"{deep_row[0]}:{deep_row[1]}"
    run_id, digest = str(uuid.UUID(int=1234)), "sha256:" + h("digest-1234")

    def sql(text: str, *args: Any) -> Callable[[], Any]:
        return lambda: conn.execute(text, args).fetchall()

    out = []
    for name, url, base in (
        ("timeline first page", "/", sql(newest)),
        ("timeline filtered (type=ImagePushed)", "/?type=ImagePushed",
         sql(f"SELECT * FROM events WHERE {visible} AND type = 'ImagePushed' "
             "ORDER BY tx_id DESC, position DESC LIMIT 51")),
        ("timeline filtered (rare type, none recorded)", "/?type=RolledBack",
         sql(f"SELECT * FROM events WHERE {visible} AND type = 'RolledBack' "
             "ORDER BY tx_id DESC, position DESC LIMIT 51")),
        ("timeline filtered (category=env)", "/?category=env",
         sql(f"SELECT * FROM events WHERE {visible} AND split_part(stream, '-', 1) = 'env' "
             "ORDER BY tx_id DESC, position DESC LIMIT 51")),
        ("timeline filtered (repository)", "/?repository=https://git.example/acme/app7.git",
         sql("SELECT run_id FROM proj_runs_v1 WHERE repository = %s "
             "ORDER BY queued_at DESC LIMIT 5000", "https://git.example/acme/app7.git")),
        ("timeline filtered (environment=production)", "/?environment=production",
         sql(f"SELECT * FROM events WHERE {visible} AND stream = 'env-production' "
             "ORDER BY tx_id DESC, position DESC LIMIT 51")),
        ("timeline deep page (90% down)", f"/?after={deep}",
         sql(f"SELECT * FROM events WHERE {visible} AND (tx_id, position) < "
             "(%s::text::xid8, %s) ORDER BY tx_id DESC, position DESC LIMIT 51",
             deep_row[0], deep_row[1])),
        ("run page", f"/runs/{run_id}",
         sql("SELECT * FROM proj_steps_v1 WHERE run_id = %s", run_id)),
        ("image page", f"/images/{digest}", lambda: find_image(store, digest)),
        ("velocity page (90 days)", "/velocity",
         lambda: velocity_report(store, ("production",), since="90d")),
        ("environment page", "/environments/production",
         lambda: environment_history(store, "production", limit=100)),
        ("search (commit prefix)", f"/search?q={h('commit-1234')[:10]}", sql("SELECT 1")),
    ):  # fmt: skip
        if only not in name:
            continue
        print(f"measuring {name} ...", flush=True)
        result = measure(client, clock, url, base, n, 303 if url.startswith("/search") else 200)
        out.append({"case": name, **result})
    name = "velocity page (90 days), after a fold"
    if only in name:
        print(f"measuring {name} ...", flush=True)
        result = measure(
            client, clock, "/velocity", lambda: former_velocity_report(store), n,
            before=lambda: deploy_and_fold(store),
        )  # fmt: skip
        out.append({"case": name, **result})
    return out


def deploy_and_fold(store: EventStore) -> None:
    """One more rollout to production, folded: the page's kept report is out of date."""
    ident = uuid.uuid4().hex
    digest = "sha256:" + h(ident)
    store.append(
        "env-production",
        [
            DeploymentStarted(deployment_id=ident, service="app1", image_digest=digest),
            DeploymentSucceeded(deployment_id=ident, service="app1", image_digest=digest),
        ],
        ANY,
        Metadata(actor="bench"),
    )
    projector(store).catch_up_all()


def former_velocity_report(store: EventStore) -> object:
    """The 90-day report as main computes it: every deployment event folded per request."""
    with former_dora_inputs():
        return velocity_report(store, ("production",), since="90d")


def snapshot_cases(
    client: TestClient, clock: ServerClock, store: EventStore, n: int, only: str = ""
) -> list[dict[str, Any]]:
    """The environment page and the desk's state with the snapshot beside without it."""
    if only not in "environment page: snapshot ÷ whole stream, environment state, Desk.state":
        return []
    url = "/environments/production"
    whole_ms = timed(lambda: read_environment(store, "production"))
    first_ms = timed(lambda: snapshots.read_state(store, "production"))  # saves the snapshot
    print(f"whole stream folded once: {whole_ms:.0f} ms; first read, saving the snapshot: "
          f"{first_ms:.0f} ms", flush=True)  # fmt: skip

    def page_without_snapshot() -> float:
        with mock.patch.object(snapshots, "fold_digest", lambda: None):
            response = client.get(url)
        assert response.status_code == 200, response.text[:300]
        return clock.last_ms

    def page_with_snapshot() -> float:
        response = client.get(url)
        assert response.status_code == 200, response.text[:300]
        return clock.last_ms

    out = []
    for name, after, before, label in (
        ("environment page: snapshot ÷ whole stream", page_with_snapshot,
         page_without_snapshot, "the page, whole stream folded"),
        ("environment state, Desk.state: snapshot ÷ whole stream",
         lambda: timed(lambda: snapshots.read_state(store, "production")),
         lambda: timed(lambda: read_environment(store, "production")),
         "read_environment"),
    ):  # fmt: skip
        if only not in name:
            continue
        print(f"measuring {name} ...", flush=True)
        after_ms, before_ms = [], []
        for _ in range(n):
            after_ms.append(after())
            before_ms.append(before())
        out.append({"case": name, "url": url, "p50_ms": round(statistics.median(after_ms), 2),
                    "p95_ms": round(p95(after_ms), 2), "baseline": label,
                    "baseline_p50_ms": round(statistics.median(before_ms), 2),
                    "baseline_p95_ms": round(p95(before_ms), 2),
                    "ratio": round(p95(after_ms) / p95(before_ms), 3)})  # fmt: skip
    return out


if __name__ == "__main__":
    main()
