"""Executor benchmark: shiplog runs of trivial steps beside plain `docker run --rm`.

    .venv/bin/python -m bench.executor [--reps 3] [--steps 10] [--runs 20] [--profile]

Case 1 executes one run of --steps sequential steps (`image: shiplog/busybox:1`,
`commands: ["true"]`) in this process as `shiplog run` does (queue, claim,
Runner.execute_claimed), against as many `docker run --rm` (CLI) and
`containers.run(remove=True)` (SDK) of the same image and command; the three take turns
in each repetition, in a rotating order. Case 2 queues --runs runs of 3 steps at once for
two `shiplog runner` processes, and for reference runs the same containers from 4 SDK
threads. Each shiplog run gets a fresh database, copied from a migrated template, on the
server SHIPLOG_BENCH_DATABASE_URL names (an admin URL), else on the embedded server under
.bench-home/. Figures are medians of --reps repetitions (at least 3), after a warm-up.
--profile times the executor's and the docker SDK's calls in case 1 (the outermost timed
call of a thread counts). The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any
from uuid import uuid4

import psycopg
from docker.models.containers import Container, ContainerCollection
from psycopg import sql
from psycopg.conninfo import make_conninfo

from app.config import Settings
from app.database import login_as
from app.engine import DEFAULT_BUSYBOX_TAG, connect, engine_version, ensure_busybox_image
from app.executor import checkout, execution, runner
from app.executor.actions import containers, networks
from app.executor.logs import StepLogWriter
from app.executor.runs import TERMINAL_TYPES, run_stream
from app.executor.source import CheckoutFacts, inspect_checkout
from app.pipeline import pipeline_digest
from app.resources import migrations_dir
from app.services.runs import queue_run
from bench.server import bench_admin_url
from events.catalogue import Metadata
from events.migrations import migrate
from events.store import EventStore
from events.vocabulary import RunQueued, RunSucceeded

TEMPLATE = "shiplog_bench_executor_template"  # not bench/ledger.py's: both may run at once
DROP = "DROP DATABASE IF EXISTS {} WITH (FORCE)"
APP_ROLE = "shiplog_app"
IMAGE = DEFAULT_BUSYBOX_TAG
SEQUENTIAL, THREE = ".shiplog.yml", "three.yml"
TARGET = 1.25  # shiplog's wall time at most this many times the plain runs'
RUNNERS, CONCURRENCY = 2, 2  # runner processes; runs each works at once (the default)
RUNS = """
SELECT c.data->>'runner', q.recorded_at, c.recorded_at, e.recorded_at, e.type
FROM events q JOIN events c USING (stream) JOIN events e USING (stream)
WHERE q.type = 'RunQueued' AND c.type = 'RunClaimed' AND e.type = ANY(%s)
"""
Row = tuple[str, Any, Any, Any, str]  # runner, queued, claimed and ended at, how it ended
Timing = Callable[[], AbstractContextManager[object]]
Totals = dict[str, list[float]]  # probe label -> [seconds, calls]
Profile = dict[str, dict[str, float]]  # system -> label -> mean ms (or calls) per run


def admin(url: str, statement: str, *names: str) -> None:
    """Run one statement on the server, outside a transaction, with `names` as identifiers."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(*map(sql.Identifier, names)))


def make_repo(root: Path, steps: int) -> CheckoutFacts:
    """A committed git repository with two pipelines of trivial sequential steps."""
    root.mkdir(parents=True)
    for path, count in ((SEQUENTIAL, steps), (THREE, 3)):
        lines = [f"name: bench-{count}", "steps:"]  # no depends_on: one after another
        for n in range(1, count + 1):
            lines += [f"  - name: step-{n}", f"    image: {IMAGE}", '    commands: ["true"]']
        (root / path).write_text("\n".join(lines) + "\n")
    git = ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@invalid"]
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "bench"]):
        subprocess.run([*git, *args], check=True)
    return inspect_checkout(root)


@dataclass(frozen=True)
class Bench:
    """What every case uses: the server, the engine, the source and a scratch directory."""

    admin_url: str
    client: Any
    facts: CheckoutFacts
    scratch: Path
    steps: int

    @contextmanager
    def fresh(self) -> Iterator[str]:
        """A new database copied from the migrated template, dropped afterwards: its owner URL."""
        name = f"shiplog_bench_{uuid4().hex[:10]}"
        admin(self.admin_url, "CREATE DATABASE {} TEMPLATE {}", name, TEMPLATE)
        try:
            yield make_conninfo(self.admin_url, dbname=name)
        finally:
            admin(self.admin_url, DROP, name)

    def queued(self, path: str) -> RunQueued:
        """The RunQueued `shiplog run` would record for the pipeline at `path`."""
        facts = self.facts
        return RunQueued(
            repository=facts.repository, commit=facts.commit, ref=facts.ref,
            commit_time=facts.commit_time, trigger="manual", pipeline_path=path,
            pipeline_digest=pipeline_digest((facts.root / path).read_bytes()), dirty=False,
            checkout=str(facts.root),
        )  # fmt: skip

    def shiplog(self, timing: Timing = nullcontext) -> tuple[float, float]:
        """One run, in-process: (RunQueued -> RunSucceeded as recorded, queue -> cleaned up)."""
        with self.fresh() as owner_url, EventStore(login_as(owner_url, APP_ROLE)) as store:
            app_url = login_as(owner_url, APP_ROLE)
            settings = Settings(home=self.scratch / "home", database_url=app_url)
            local = runner.Runner(settings, store, app_url, self.client, name="bench")
            job = self.queued(SEQUENTIAL)
            with timing():
                start = perf_counter()
                run_id = queue_run(store, job, local.metadata)
                recorder = local.ledger.claim(run_id, local.claimed_event(), local.metadata)
                assert recorder is not None, "nobody else can claim this run"
                with local.beating():
                    local.execute_claimed(recorder, job)
                total = perf_counter() - start
            events = store.read_stream(run_stream(run_id))
        if not isinstance(events[-1].data, RunSucceeded):
            raise RuntimeError(f"run {run_id} did not succeed: {events[-1].data!r}")
        return (events[-1].recorded_at - events[0].recorded_at).total_seconds(), total

    def cli(self) -> float:
        """Seconds for `steps` x `docker run --rm IMAGE true`, a subprocess each."""
        start = perf_counter()
        for _ in range(self.steps):
            subprocess.run(["docker", "run", "--rm", IMAGE, "true"], check=True)
        return perf_counter() - start

    def sdk(self, count: int | None = None) -> float:
        """Seconds for `count` (else `steps`) x `containers.run(IMAGE, ["true"], remove=True)`."""
        start = perf_counter()
        for _ in range(count or self.steps):
            self.client.containers.run(IMAGE, ["true"], remove=True)
        return perf_counter() - start


def sequential(bench: Bench, reps: int) -> dict[str, list[float]]:
    """Case 1: the seconds of each repetition, by system; one warm-up of each first."""
    figures: dict[str, list[float]] = {"shiplog": [], "total": [], "cli": [], "sdk": []}
    bench.shiplog(), bench.cli(), bench.sdk()
    systems = ["shiplog", "cli", "sdk"]
    for rep in range(reps):
        for system in systems[rep % 3 :] + systems[: rep % 3]:  # a different one goes first
            if system == "shiplog":
                ledger, total = bench.shiplog()
                figures["shiplog"].append(ledger)
                figures["total"].append(total)
            else:
                figures[system].append(bench.cli() if system == "cli" else bench.sdk())
    return figures


def start_runner(owner_url: str, home: Path) -> subprocess.Popen[str]:
    """`shiplog runner` in a process of its own, polling every 0.2 s; waits until it works."""
    home.mkdir(parents=True)
    app_url = login_as(owner_url, APP_ROLE)
    env = {**os.environ, "SHIPLOG_HOME": str(home), "SHIPLOG_DATABASE_URL": app_url,
           "SHIPLOG_RUNNER_NAME": home.name, "SHIPLOG_POLL_INTERVAL": "0.2",
           "SHIPLOG_RUNNER_CONCURRENCY": str(CONCURRENCY)}  # fmt: skip
    shiplog = Path(sys.executable).parent / "shiplog"
    with (home / "runner.log").open("w") as log:
        process = subprocess.Popen([str(shiplog), "runner"], env=env, cwd=home, text=True,
                                   stdout=subprocess.PIPE, stderr=log)  # fmt: skip
    assert process.stdout is not None
    if "working" not in process.stdout.readline():  # "runner NAME working (up to 2)"
        raise RuntimeError(f"runner {home.name} did not start; see {home / 'runner.log'}")
    return process


def throughput(bench: Bench, runs: int, rep: int) -> dict[str, Any]:
    """Case 2: queue `runs` runs at once for RUNNERS runner processes; time until all end."""
    workers: list[subprocess.Popen[str]] = []
    with bench.fresh() as owner_url:
        try:
            for n in range(RUNNERS):
                workers.append(start_runner(owner_url, bench.scratch / f"case2-{rep}-runner-{n}"))
            with EventStore(login_as(owner_url, APP_ROLE)) as store:
                job = bench.queued(THREE)
                for _ in range(runs):
                    queue_run(store, job, Metadata(actor="bench", source="cli"))
            with psycopg.connect(owner_url, autocommit=True) as conn:
                deadline = time.monotonic() + 60 + 30 * runs
                count = "SELECT count(*) FROM events WHERE type = ANY(%s)"
                while conn.execute(count, (list(TERMINAL_TYPES),)).fetchall()[0][0] < runs:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"runs unfinished; see {bench.scratch}/*/runner.log")
                    time.sleep(0.1)
                rows: list[Row] = conn.execute(RUNS, (list(TERMINAL_TYPES),)).fetchall()
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=60)
    return summarise(rows, runs)


def summarise(rows: list[Row], runs: int) -> dict[str, Any]:
    """Runs per minute, latencies (queue -> end, claim -> end) and who ran how many."""
    if len(rows) != runs or any(kind != "RunSucceeded" for *_, kind in rows):
        raise RuntimeError(f"not every run succeeded: {[row[-1] for row in rows]}")
    span = (max(row[3] for row in rows) - min(row[1] for row in rows)).total_seconds()
    waited = [(end - queued).total_seconds() for _, queued, _, end, _ in rows]
    worked = [(end - claimed).total_seconds() for _, _, claimed, end, _ in rows]
    by = [row[0] for row in rows]
    return {"runs_per_minute": runs / span * 60, "seconds": span,
            "latency_median": statistics.median(waited),
            "latency_p90": statistics.quantiles(waited, n=10, method="inclusive")[-1],
            "execution_median": statistics.median(worked),
            "by_runner": {name: by.count(name) for name in sorted(set(by))}}  # fmt: skip


def sdk_throughput(bench: Bench, runs: int) -> float:
    """Reference for case 2: runs/min when RUNNERS x CONCURRENCY threads run 3 containers each."""
    start = perf_counter()
    with ThreadPoolExecutor(RUNNERS * CONCURRENCY) as pool:
        list(pool.map(lambda _: bench.sdk(3), range(runs)))
    return runs / (perf_counter() - start) * 60


PROBES: list[tuple[Any, str, str]] = [  # (owner, attribute, label), in the order of a run
    (checkout, "prepare_workspace", "workspace clone"),
    (networks, "prepare_run", "network create"),  # a run of its own: `shiplog run`
    (runner, "engine_version", "engine version for RunClaimed"),
    (psycopg, "connect", "database connects"),
    (EventStore, "append", "event appends"),
    (containers, "resolve_image", "image lookup"),
    (ContainerCollection, "create", "container create (+inspect)"),
    (Container, "start", "container start"),
    (containers, "_follow", "output until exit, wait"),
    (Container, "logs", "output until exit, wait"),
    (Container, "wait", "output until exit, wait"),
    (Container, "remove", "container remove"),
    (StepLogWriter, "close", "log writer flush and close"),
    (execution, "cleanup_run", "cleanup: list, network remove"),
]


@contextmanager
def probes(totals: Totals) -> Iterator[None]:
    """Add the time and calls of every PROBES call (the outermost in each thread) to `totals`."""
    depth = threading.local()
    saved = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in PROBES]

    def timed(original: Callable[..., Any], label: str) -> Callable[..., Any]:
        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            level = getattr(depth, "level", 0)
            depth.level, start = level + 1, perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                depth.level = level
                if level == 0:
                    entry = totals.setdefault(label, [0.0, 0])
                    entry[0] += perf_counter() - start
                    entry[1] += 1

        return wrapper

    for (owner, attr, label), (_, _, original) in zip(PROBES, saved, strict=True):
        setattr(owner, attr, timed(original, label))
    try:
        yield
    finally:
        for owner, attr, original in saved:
            setattr(owner, attr, original)


def profile(bench: Bench, reps: int) -> Profile:
    """Mean ms (and calls) per run of each probe: shiplog's run, and the SDK's containers."""
    result: Profile = {}
    for name in ("shiplog", "sdk"):
        totals: Totals = {}
        if name == "shiplog":  # only queue -> cleaned up, not the database's creation
            wall = sum(bench.shiplog(functools.partial(probes, totals))[1] for _ in range(reps))
        else:
            with probes(totals):
                wall = sum(bench.sdk() for _ in range(reps))
        parts = {label: total * 1000 / reps for label, (total, _) in totals.items()}
        calls = {f"{label} calls": count / reps for label, (_, count) in totals.items()}
        rest = wall * 1000 / reps - sum(parts.values())
        result[name] = {**parts, "rest": rest, "wall": wall * 1000 / reps, **calls}
    return result


def report(case1: dict[str, list[float]], case2: list[dict[str, Any]], sdk2: list[float],
           prof: Profile | None, steps: int) -> dict[str, Any]:  # fmt: skip
    """Print the tables; return the medians, the ratio and the verdict."""
    med = {name: statistics.median(values) for name, values in case1.items()}
    ratio = med["shiplog"] / med["cli"]
    print(f"\ncase 1: {steps} sequential steps, `{IMAGE}` `true` (seconds)")
    print(f"  {'':38}{'median':>7}{'x CLI':>7}{'per step':>10}   each run")
    for key, label in (("shiplog", "shiplog: RunQueued -> RunSucceeded"),
                       ("total", "shiplog: queue -> cleaned up"),
                       ("cli", f"{steps} x docker run --rm (CLI)"),
                       ("sdk", f"{steps} x containers.run (SDK)")):  # fmt: skip
        each = " ".join(f"{value:.2f}" for value in case1[key])
        print(f"  {label:38}{med[key]:7.2f}{med[key] / med['cli']:7.2f}"
              f"{med[key] / steps * 1000:8.0f}ms   {each}")  # fmt: skip
    print(f"  target shiplog <= {TARGET} x CLI: {ratio:.2f}, {'met' if ratio <= TARGET else 'NO'}")
    numbers = [key for key in case2[0] if key != "by_runner"]
    mid = {key: statistics.median(run[key] for run in case2) for key in numbers}
    each = " ".join(f"{run['runs_per_minute']:.1f}" for run in case2)
    print(f"\ncase 2: 3-step runs, {RUNNERS} runner processes x {CONCURRENCY} runs at a time\n"
          f"  runs/min {mid['runs_per_minute']:.1f} (each: {each}); "
          f"4 SDK threads, same containers: {statistics.median(sdk2):.1f}\n"
          f"  queue -> end: median {mid['latency_median']:.1f} s, p90 {mid['latency_p90']:.1f} s;"
          f" claim -> end: median {mid['execution_median']:.1f} s")  # fmt: skip
    if prof is not None:
        print(f"\nwhere case 1's time goes: mean ms per run of {steps} steps (calls)")
        for label in [*dict.fromkeys(label for _, _, label in PROBES), "rest", "wall"]:
            cells = [f"{p[label]:7.0f} ({p.get(label + ' calls', 0):3.0f})" if label in p
                     else f"{'—':>13}" for p in (prof["shiplog"], prof["sdk"])]  # fmt: skip
            print(f"  {label:34}{cells[0]:>15}{cells[1]:>15}")
    return {"medians": med, "ratio": ratio, "target": TARGET, "met": ratio <= TARGET,
            "case2_medians": mid}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run both cases (and the profile), print the tables and the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.executor", description=__doc__)
    parser.add_argument("--reps", type=int, default=3, help="repetitions per figure (>= 3)")
    parser.add_argument("--steps", type=int, default=10, help="steps in case 1 (10)")
    parser.add_argument("--runs", type=int, default=20, help="runs in case 2 (20)")
    parser.add_argument("--profile", action="store_true", help="add a breakdown of case 1")
    args = parser.parse_args(argv)
    if args.reps < 3:
        parser.error("--reps must be at least 3: figures are medians")
    client = connect()
    ensure_busybox_image(client)
    admin_url = bench_admin_url()
    started, load_before = perf_counter(), os.getloadavg()
    admin(admin_url, DROP, TEMPLATE)
    admin(admin_url, "CREATE DATABASE {}", TEMPLATE)
    migrate(make_conninfo(admin_url, dbname=TEMPLATE), migrations_dir())
    prof = None
    try:
        with tempfile.TemporaryDirectory(prefix="shiplog-bench-") as scratch:
            facts = make_repo(Path(scratch) / "repo", args.steps)
            bench = Bench(admin_url, client, facts, Path(scratch), args.steps)
            print(f"... case 1: {args.steps} steps, {args.reps} repetitions", flush=True)
            case1 = sequential(bench, args.reps)
            print(f"... case 2: {args.runs} runs, {args.reps} repetitions", flush=True)
            case2 = [throughput(bench, args.runs, rep) for rep in range(args.reps)]
            sdk2 = [sdk_throughput(bench, args.runs) for _ in range(args.reps)]
            if args.profile:
                print("... profile of case 1", flush=True)
                prof = profile(bench, args.reps)
    finally:
        admin(admin_url, DROP, TEMPLATE)
    verdict = report(case1, case2, sdk2, prof, args.steps)
    print(json.dumps({
        "steps": args.steps, "runs": args.runs, "reps": args.reps, "case1": case1,
        "case2": case2, "case2_sdk_runs_per_minute": sdk2, "profile": prof, **verdict,
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "kernel": platform.release(), "docker": engine_version(client),
        "seconds": round(perf_counter() - started, 1), "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
    }, sort_keys=True))  # fmt: skip


if __name__ == "__main__":
    main()
