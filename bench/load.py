"""Load: many API clients reading and reporting, runners running pipelines, live pages open.

    python -m bench.load [--clients 50] [--runners 4] [--live 5] [--duration 60]

Everything is real and on loopback: `shiplog serve` and `shiplog runner` processes on
a fresh database of the embedded server under .bench-home/ (or
SHIPLOG_BENCH_DATABASE_URL), the Docker engine running the runners' pipelines, and
locust (as a library) driving the HTTP clients. The server and the runners log in as
shiplog_app (the owner only migrates); the clients and the live pages send a
deployer's bearer token, as a deploying tool would. Each client, in a loop, lists runs,
reads a page of the audit log, reads one run, checks /healthz, and reports a
deployment (POST /api/deployments). Live pages are SSE readers of /live/timeline.

It prints, first for a baseline (one client, no runners, no live pages) and then for
the load: p50 and p99 per route, requests per second, errors, events appended per
second, and the lost-event check: every deployment the API acknowledged must be in
the ledger exactly once. It exits 1 on any error or lost event.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from app.database import login_as
from app.resources import migrations_dir
from app.services.access import Role
from app.services.tokens import create_token
from bench.server import bench_admin_url
from events.migrations import migrate
from events.store import EventStore

SHIPLOG = Path(sys.executable).parent / "shiplog"
ROUTES = (
    "GET /api/runs",
    "GET /api/events",
    "GET /api/runs/{id}",
    "GET /healthz",
    "POST /api/deployments",
)
PIPELINE = """\
name: load
steps:
  - name: work
    image: shiplog/busybox:1
    commands: [echo working, sleep 1, echo done]
  - name: after
    image: shiplog/busybox:1
    commands: [echo after]
"""


@dataclass
class Result:
    """What one load run measured."""

    label: str
    seconds: float
    requests: int
    errors: int
    error_kinds: list[str]
    percentiles: dict[str, tuple[float, float]]
    events: int
    acknowledged: int
    recorded: int
    runs_finished: int
    live_rows: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database(admin_url: str) -> str:
    name = f"shiplog_load_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg.conninfo.conninfo_to_dict(admin_url)
    params["dbname"] = name
    owner = psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]
    migrate(owner, migrations_dir())
    return owner


def _drop(admin_url: str, owner_url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(owner_url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _app_url(owner_url: str) -> str:
    """The application role's URL (the bench's server trusts local connections)."""
    return login_as(owner_url, "shiplog_app")


def _env(owner_url: str, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPLOG_")}
    env.update(
        SHIPLOG_DATABASE_URL=_app_url(owner_url),
        SHIPLOG_OWNER_DATABASE_URL=owner_url,
        SHIPLOG_HOME=str(home),
        **extra,
    )
    return env


def _deployer_token(owner_url: str) -> dict[str, str]:
    """The Authorization header of a new deployer token (reads and reports deployments)."""
    with EventStore(_app_url(owner_url)) as store:
        made = create_token(store, "load", frozenset({Role.DEPLOYER}), "bench")
    return {"Authorization": f"Bearer {made.secret}"}


def _count(owner_url: str, query: str, *params: Any) -> int:
    with psycopg.connect(owner_url) as conn:
        row = conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0


def _repo(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / ".shiplog.yml").write_text(PIPELINE)
    git = ["git", "-C", str(root), "-c", "user.name=b", "-c", "user.email=b@example.com"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "load"]):
        subprocess.run(
            [*git, *args], check=True, env={**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null"}
        )
    return root


def _live_reader(
    base: str, headers: dict[str, str], stop: threading.Event, rows: list[int]
) -> None:
    """An open live timeline page: count the rows it receives until `stop`."""
    import httpx2 as httpx

    while not stop.is_set():
        try:
            live = f"{base}/live/timeline"
            with httpx.stream("GET", live, headers=headers, timeout=5) as response:
                for line in response.iter_lines():
                    if line.startswith("event: row"):
                        rows[0] += 1
                    if stop.is_set():
                        return
        except Exception:  # a reconnect, as a browser's EventSource does
            time.sleep(0.2)


def _locust(
    base: str, headers: dict[str, str], clients: int, seconds: float, acknowledged: list[str]
) -> Any:
    """Run the API clients with locust for `seconds`, sending `headers`; its stats."""
    from locust import HttpUser, between, task
    from locust.env import Environment

    class ApiClient(HttpUser):  # type: ignore[misc]
        host = base
        wait_time = between(0.05, 0.2)

        def on_start(self) -> None:
            self.client.headers.update(headers)

        @task
        def visit(self) -> None:
            listed = self.client.get("/api/runs?limit=20", name="GET /api/runs")
            runs = listed.json() if listed.status_code == 200 else []
            self.client.get("/api/events?limit=50", name="GET /api/events")
            if runs:
                self.client.get(f"/api/runs/{runs[0]['run_id']}", name="GET /api/runs/{id}")
            self.client.get("/healthz", name="GET /healthz")
            deployment = str(uuid.uuid4())
            answer = self.client.post(
                "/api/deployments",
                name="POST /api/deployments",
                json={
                    "environment": "production",
                    "service": "web",
                    "image_digest": "sha256:" + "ab" * 32,
                    "status": "succeeded",
                    "deployment_id": deployment,
                },
            )
            if answer.status_code < 300:
                acknowledged.append(deployment)

    environment = Environment(user_classes=[ApiClient])
    runner = environment.create_local_runner()
    runner.start(clients, spawn_rate=clients)
    time.sleep(seconds)
    runner.quit()
    return environment.stats


def run_load(
    label: str, admin_url: str, *, clients: int, runners: int, live: int, seconds: float
) -> Result:
    """One measured run on a fresh database; everything it started is stopped after."""
    owner = _database(admin_url)
    work = Path(tempfile.mkdtemp(prefix="shiplog-load-"))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    processes: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()
    try:
        log = (work / "serve.log").open("wb")
        processes.append(
            subprocess.Popen(
                [str(SHIPLOG), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=_env(owner, work / "home"),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        _wait_for(f"{base}/healthz")
        for n in range(runners):
            processes.append(
                subprocess.Popen(
                    [str(SHIPLOG), "runner"],
                    env=_env(
                        owner,
                        work / f"runner-{n}",
                        SHIPLOG_RUNNER_NAME=f"load-{n}",
                        SHIPLOG_POLL_INTERVAL="0.2",
                    ),
                    stdout=(work / f"runner-{n}.log").open("wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        repo = _repo(work / "repo")
        queuer = threading.Thread(
            target=_queue_runs, args=(repo, owner, work, stop, runners > 0), daemon=True
        )
        queuer.start()
        rows = [0]
        headers = _deployer_token(owner)
        readers = [
            threading.Thread(target=_live_reader, args=(base, headers, stop, rows), daemon=True)
            for _ in range(live)
        ]
        for reader in readers:
            reader.start()
        before = _count(owner, "SELECT count(*) FROM events")
        acknowledged: list[str] = []
        started = time.monotonic()
        stats = _locust(base, headers, clients, seconds, acknowledged)
        elapsed = time.monotonic() - started
        stop.set()
        events = _count(owner, "SELECT count(*) FROM events") - before
        recorded = _count(
            owner,
            "SELECT count(DISTINCT data->>'deployment_id') FROM events "
            "WHERE type = 'DeploymentSucceeded' AND data->>'deployment_id' = ANY(%s)",
            acknowledged,
        )
        finished = _count(owner, "SELECT count(*) FROM events WHERE type = 'RunSucceeded'")
        percentiles = {
            name: (
                entry.get_response_time_percentile(0.5),
                entry.get_response_time_percentile(0.99),
            )
            for name in ROUTES
            if (entry := stats.entries.get((name, name.split(" ", 1)[0])))
        }
        kinds = [f"{e.name}: {e.error} (x{e.occurrences})" for e in stats.errors.values()]
        return Result(
            label,
            elapsed,
            stats.total.num_requests,
            stats.total.num_failures,
            kinds,
            percentiles,
            events,
            len(acknowledged),
            recorded,
            finished,
            rows[0],
        )
    finally:
        stop.set()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
        _drop(admin_url, owner)


def _queue_runs(repo: Path, owner: str, work: Path, stop: threading.Event, enabled: bool) -> None:
    """Queue a run of the sample pipeline every second while the load lasts."""
    while enabled and not stop.wait(1.0):
        subprocess.run(
            [str(SHIPLOG), "run", "--detach", str(repo)],
            env=_env(owner, work / "cli"),
            capture_output=True,
            check=False,
        )


def _wait_for(url: str, seconds: float = 60) -> None:
    import httpx2 as httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def report(results: list[Result]) -> None:
    """Print the table docs/benchmarks.md holds."""
    header = "| route | " + " | ".join(f"{r.label} p50 / p99 ms" for r in results) + " |"
    print(header)
    print("|" + "---|" * (len(results) + 1))
    for route in ROUTES:
        cells = []
        for r in results:
            p50, p99 = r.percentiles.get(route, (0, 0))
            cells.append(f"{p50:.0f} / {p99:.0f}")
        print(f"| `{route}` | " + " | ".join(cells) + " |")
    for r in results:
        for kind in r.error_kinds:
            print(f"{r.label}: error {kind}")
        print(
            f"{r.label}: {r.requests} requests in {r.seconds:.0f} s "
            f"({r.requests / r.seconds:.0f}/s), "
            f"{r.errors} errors, {r.events / r.seconds:.1f} events appended/s, "
            f"{r.acknowledged} deployments acknowledged, {r.recorded} in the ledger "
            f"(lost {r.acknowledged - r.recorded}), {r.runs_finished} runs succeeded, "
            f"{r.live_rows} live rows delivered"
        )


def main(argv: list[str] | None = None) -> int:
    """Run the baseline, then the load; exit 1 on an error or a lost event."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--runners", type=int, default=4)
    parser.add_argument("--live", type=int, default=5)
    parser.add_argument("--duration", type=float, default=60)
    args = parser.parse_args(argv)
    admin_url = bench_admin_url()
    results = [
        run_load("1 client", admin_url, clients=1, runners=0, live=0, seconds=args.duration),
        run_load(
            f"{args.clients} clients",
            admin_url,
            clients=args.clients,
            runners=args.runners,
            live=args.live,
            seconds=args.duration,
        ),
    ]
    report(results)
    bad = any(r.errors or r.recorded != r.acknowledged for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
