"""Velocity benchmark: p95 latency of the deployment audit and of a one-year velocity report.

    PYTHONPATH=$PWD .venv/bin/python -m bench.velocity [--services 10] [--requests 200]

Writes a generated year (tests/velocity_history.py: every service gets pushes each
working day and staging and production rollouts most days, with failures,
rollbacks and incidents) through the real EventStore into a fresh database on the
server SHIPLOG_BENCH_DATABASE_URL names (else the embedded one under .bench-home/),
folds it with the real projector, then times, taking turns within each round:

- `GET /api/audit/deployments` (a page of 100 of one environment's deployments in
  a 30-day window, windows spread over the year) through the FastAPI app in
  process, beside the bare SELECT of the same page's rows (baseline);
- `GET /api/velocity` over the whole year for every production service, beside
  the bare SELECTs of the rows the report reads (baseline);
- each service function called directly, without HTTP (what the query costs).

Prints p50 and p95 of each and their ratio; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.config import Settings
from app.database import Database
from app.projections import projector
from app.queries.environments import DeploymentAudit, audit_deployments
from app.queries.velocity import velocity_report
from app.server import create_app
from bench.server import bench_admin_url, fresh_database
from bench.velocity_baseline import former_dora_inputs
from events.store import EventStore
from tests.support.velocity_history import DAYS, START, generate, write

TARGETS_MS = {"audit": 20.0, "velocity": 300.0}


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of `samples`."""
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


def timed(call: Callable[..., object], *args: Any) -> float:
    """Milliseconds one call of `call(*args)` takes."""
    start = perf_counter()
    call(*args)
    return (perf_counter() - start) * 1000


def main(argv: list[str] | None = None) -> None:
    """Build the year, time both routes beside their baselines, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    admin_url = bench_admin_url()
    with fresh_database(admin_url, "velocity") as database:
        print(json.dumps(run(database, args), sort_keys=True))


def run(database: Database, args: argparse.Namespace) -> dict[str, Any]:
    """The benchmark proper on a migrated, empty database."""
    services = [f"svc{i:02d}" for i in range(args.services)]
    history, events = generate(seed=7, services=services)
    store = EventStore(database.app_url)
    started = perf_counter()
    write(store, events)
    written = perf_counter() - started
    started = perf_counter()
    projector(store).catch_up_all()
    folded = perf_counter() - started
    home = Path(tempfile.mkdtemp(prefix="shiplog-bench-"))
    # Reads open to all: the figures stay comparable with those taken before sign-in existed.
    settings = Settings(
        home=home, database_url=database.app_url, public_read=True, allowed_hosts=("testserver",)
    )
    windows = [START + timedelta(days=(7 * i) % (DAYS - 30)) for i in range(args.requests)]
    cases = ("audit", "audit_service", "audit_select", "velocity", "velocity_service",
             "velocity_select", "velocity_former")  # fmt: skip
    figures: dict[str, list[float]] = {k: [] for k in cases}
    since, until = START.isoformat(), (START + timedelta(days=DAYS)).isoformat()
    with TestClient(create_app(settings)) as client, psycopg.connect(database.app_url) as conn:
        for i, start in enumerate(windows):
            params = {"env": "production", "since": start.isoformat(),
                      "until": (start + timedelta(days=30)).isoformat(), "limit": 100}  # fmt: skip
            figures["audit"].append(timed(_get, client, "/api/audit/deployments", params))
            figures["audit_service"].append(timed(audit_deployments, store, _audit(start)))
            figures["audit_select"].append(timed(_audit_select, conn, start))
            if i % 5 == 0:
                year = {"since": since, "until": until}
                figures["velocity"].append(timed(_get, client, "/api/velocity", year))
                figures["velocity_service"].append(timed(_report, store, since, until))
                figures["velocity_select"].append(timed(_velocity_select, conn))
                with former_dora_inputs():
                    figures["velocity_former"].append(timed(_report, store, since, until))
    result: dict[str, Any] = {
        "events": len(events), "deployments": len(history.deployments),
        "services": len(services), "write_seconds": round(written, 1),
        "fold_seconds": round(folded, 1), "cpus": os.cpu_count(), "loadavg": os.getloadavg(),
    }  # fmt: skip
    for case in ("audit", "velocity"):
        mine, base = figures[case], figures[f"{case}_select"]
        service = figures[f"{case}_service"]
        p95, base95 = percentile(mine, 0.95), percentile(base, 0.95)
        result[case] = {
            "samples": len(mine), "p50_ms": round(statistics.median(mine), 2),
            "p95_ms": round(p95, 2), "baseline_p50_ms": round(statistics.median(base), 2),
            "baseline_p95_ms": round(base95, 2), "ratio_p95": round(p95 / base95, 1),
            "service_p50_ms": round(statistics.median(service), 2),
            "service_p95_ms": round(percentile(service, 0.95), 2),
            "target_ms": TARGETS_MS[case], "met": p95 < TARGETS_MS[case],
        }  # fmt: skip
        print(f"{case:<9} p50 {statistics.median(mine):8.2f} ms  p95 {p95:8.2f} ms   "
              f"without HTTP p95 {percentile(service, 0.95):7.2f} ms   "
              f"baseline p95 {base95:7.2f} ms   x{p95 / base95:.1f}   "
              f"target < {TARGETS_MS[case]:.0f} ms")  # fmt: skip
    service, former = figures["velocity_service"], figures["velocity_former"]
    result["velocity_former"] = {
        "service_p50_ms": round(statistics.median(former), 2),
        "service_p95_ms": round(percentile(former, 0.95), 2),
        "ratio_p95": round(percentile(service, 0.95) / percentile(former, 0.95), 2),
    }  # fmt: skip
    p50_ratio = statistics.median(service) / statistics.median(former)
    print(f"velocity without HTTP, main's way (every deployment event folded per request): "
          f"p50 {statistics.median(former):.2f} ms  p95 {percentile(former, 0.95):.2f} ms; "
          f"this way / main's way p50 {p50_ratio:.2f}, "
          f"p95 {percentile(service, 0.95) / percentile(former, 0.95):.2f}")  # fmt: skip
    store.close()
    return result


def _audit(start: datetime) -> DeploymentAudit:
    """The audit query of the HTTP case, for the service called without HTTP."""
    return DeploymentAudit("production", None, start, start + timedelta(days=30), None, 100)


def _report(store: EventStore, since: str, until: str) -> None:
    """The velocity report of the HTTP case, without HTTP."""
    velocity_report(store, ("production",), since=since, until=until)


def _get(client: TestClient, path: str, params: dict[str, Any]) -> None:
    """GET `path`; fail loudly unless the answer is a 200."""
    response = client.get(path, params=params)
    if response.status_code != 200:
        raise SystemExit(f"benchmark request failed: {response.status_code} {response.text}")


def _audit_select(conn: psycopg.Connection[Any], start: Any) -> None:
    """Baseline: the bare SELECT of one audit page's started rows."""
    conn.execute(
        "SELECT * FROM proj_deployment_events_v1 WHERE environment = 'production' "
        "AND kind = 'started' AND at >= %s AND at < %s ORDER BY at, position LIMIT 101",
        (start, start + timedelta(days=30)),
    ).fetchall()


def _velocity_select(conn: psycopg.Connection[Any]) -> None:
    """Baseline: the bare SELECTs of every row the one-year report reads."""
    conn.execute(
        "SELECT * FROM proj_deployment_events_v1 WHERE environment = 'production'"
    ).fetchall()
    conn.execute("SELECT * FROM proj_incident_events_v1").fetchall()
    conn.execute("SELECT * FROM proj_pushed_commits_v1").fetchall()


if __name__ == "__main__":
    main()
