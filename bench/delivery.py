"""Delivery benchmark: rolling, blue/green and canary by shiplog beside the same change by hand.

    .venv/bin/python -m bench.delivery [--reps 5] [--replicas 2] [--strategies canary,...]

Set-up (not timed): a fresh database on the embedded server under .bench-home/ (or on
SHIPLOG_BENCH_DATABASE_URL, an admin URL), a loopback registry, the engine as a one-node
swarm, and one real run of a pipeline over examples/hello that builds, tests, pushes and
scans two versions (so both digests have their evidence). For each strategy, two
identical set-ups with --replicas tasks of the same health check: one that shiplog
delivers to (environment `bench`), one made and changed by hand.

- rolling: a swarm service each, the same update settings (parallelism 1, delay 0s,
  start-first, monitor 2s, failure action rollback, max failure ratio 0).
- blue/green and canary: an overlay network, the same HAProxy image and configuration,
  and two colours each (bench/proxied_by_hand.py is the person's side). Before each
  turn (not timed) the colour that gets no traffic is retired: shiplog scales its
  standby to zero (StandbyRetired), the person `docker service rm`s it, so both start
  the new version's tasks afresh.

Timed, --reps times per strategy, the two taking turns (a different one first each
time), each moving its service to the other version:

- shiplog: `deploy(...)` as `shiplog deploy` does it: the environments file, the ledger
  (rules, pins, the evidence gates), DeploymentRequested, DeploymentStarted, the rollout
  followed to its end (for a canary: each step, its analysis recorded), the outcome.
- by hand, rolling: `docker service update --image <repository>@<digest> SERVICE`,
  which waits until the update converged; blue/green: `docker service create` of the
  new colour, waiting until its tasks are healthy and the proxy sees them up, then the
  switch over the runtime API; canary: the same, then the same weight steps and pauses
  over the runtime API, reading `show stat` every analysis interval, then the switch.

A canary's turns run with requests flowing to both proxies (every 20 ms each).
Figures are medians; the ratio is shiplog's over the hand's. The last line printed is
one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from time import perf_counter
from typing import Any

from psycopg.conninfo import make_conninfo

from app.cli.demo import traffic
from app.config import Settings
from app.database import login_as
from app.delivery.desk import Desk
from app.delivery.proxied import retire_standbys
from app.engine import LocalRegistry, connect, engine_version, ensure_busybox_image
from app.executor.execution import Observers
from app.executor.local import run_here
from app.resources import example_dir, migrations_dir
from app.services.delivery import deploy, open_desk, swarm_pool
from app.services.runs import queue_checkout
from bench.executor import DROP, admin
from bench.proxied_by_hand import HandProxied, docker, remove_bench_objects, set_up_by_hand
from bench.server import bench_admin_url
from events.catalogue import Metadata
from events.migrations import migrate
from events.store import EventStore
from events.vocabulary import ImagePushed

APP_ROLE = "shiplog_app"
HEALTH = "wget -q -O /dev/null http://127.0.0.1:8080/healthz"
UPDATE = [
    "--update-parallelism", "1", "--update-delay", "0s", "--update-order", "start-first",
    "--update-monitor", "2s", "--update-failure-action", "rollback",
    "--update-max-failure-ratio", "0",
]  # fmt: skip
VERSIONS = ("1.0.0", "2.0.0")
STRATEGIES = ("rolling", "blue-green", "canary")
SERVICES = {"rolling": "web", "blue-green": "bg", "canary": "canary"}
CANARY_STEPS, CANARY_PAUSE, CANARY_INTERVAL = [50, 100], 2, 1
Ports = tuple[int, int, int, int]


def pipeline(repository: str) -> str:
    """Build, test, push and scan two versions of examples/hello."""
    steps = []
    for version in VERSIONS:
        tag = f"bench/hello:{version}"
        steps += [
            f'  - name: build-{version}\n    build:\n      args: {{VERSION: "{version}"}}\n'
            f'      tags: ["{tag}"]',
            f"  - name: test-{version}\n    image: {tag}\n"
            f"    commands: [hello-test /workspace/reports/{version}.xml]\n"
            f'    reports: ["reports/{version}.xml"]',
            f'  - name: push-{version}\n    push: {{image: "{tag}", repository: {repository}, '
            f'tags: ["{version}"]}}',
            f"  - name: scan-{version}\n    scan: {{image: build-{version}}}",
        ]
    return "name: bench\nsteps:\n" + "\n".join(steps) + "\n"


def environments(namespace: str, replicas: int, ports: Mapping[str, Ports]) -> str:
    """The bench environment: a rolling service with the hand's settings (`web`), and one
    behind a proxy per strategy, on `ports` (public, admin, metrics, preview)."""
    common = {
        "replicas": replicas,
        "health": {"command": HEALTH, "interval": "1s", "retries": 2},
        "rolling": {"parallelism": 1, "delay": 0, "monitor": "2s"},
    }
    services: dict[str, Any] = {"web": common}
    for strategy, (public, runtime, metrics, preview) in ports.items():
        services[SERVICES[strategy]] = {
            **common,
            "strategy": strategy,
            "ports": [{"published": public, "target": 8080}],
            "proxy": {"admin_port": runtime, "metrics_port": metrics, "preview_port": preview},
            "canary": {
                "steps": CANARY_STEPS,
                "pause": f"{CANARY_PAUSE}s",
                "analysis": {"interval": f"{CANARY_INTERVAL}s", "probes": ["/healthz"]},
            },
        }
    return json.dumps(
        {
            "environments": [
                {"name": "bench", "target": {"namespace": namespace}, "services": services}
            ]
        }
    )


def free_ports() -> Ports:
    """Four ports nothing listens on now, on the loopback."""
    sockets = [socket.socket() for _ in range(4)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        public, admin, metrics, preview = (int(sock.getsockname()[1]) for sock in sockets)
        return public, admin, metrics, preview
    finally:
        for sock in sockets:
            sock.close()


def built(
    settings: Settings, store: EventStore, app_url: str, root: Path, registry: Any
) -> dict[str, str]:
    """Run the two-version pipeline for real; the manifest digest of each version."""
    for source in example_dir("hello").iterdir():
        if source.name != "environments.yml":
            shutil.copy(source, root / source.name)
    (root / ".shiplog.yml").write_text(pipeline(f"{registry.address}/bench/hello"))
    git = ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@invalid"]
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "bench"]):
        subprocess.run([*git, *args], check=True)
    actor = Metadata(actor="bench", source="bench")
    run_id, queued = queue_checkout(store, app_url, root, pipeline=".shiplog.yml", actor=actor)
    state = run_here(settings, store, app_url, run_id, queued, Observers())
    if state is None or state.status != "succeeded":
        raise RuntimeError(f"the bench's run did not succeed: {state}")
    events = store.read_stream(f"run-{run_id}")
    return {e.data.tag: e.data.digest for e in events if isinstance(e.data, ImagePushed)}


def update_by_hand(service: str, images: Mapping[str, str], version: str) -> None:
    """`docker service update --image IMAGE SERVICE`, which waits until it converged."""
    docker("service", "update", "--image", images[version], service)


def timed(action: Callable[[], object]) -> float:
    """Seconds `action` takes."""
    start = perf_counter()
    action()
    return perf_counter() - start


@dataclass
class Contest:
    """One strategy's two sides: shiplog's turn and the hand's, each to a given version."""

    shiplog: Callable[[str], object]
    hand: Callable[[str], object]
    before_turn: Callable[[], object] = lambda: None
    traffic: tuple[int, ...] = ()  # public ports that get requests during the turns


def contests(
    strategies: list[str],
    desk: Desk,
    namespace: str,
    replicas: int,
    digests: Mapping[str, str],
    images: Mapping[str, str],
    ports: Mapping[str, Ports],
) -> dict[str, Contest]:
    """Set up each strategy's two sides with the first version (not timed)."""
    first = VERSIONS[0]
    found: dict[str, Contest] = {}
    for strategy in strategies:
        service = SERVICES[strategy]
        deploy(desk, "bench", service, digests[first], "bench")

        def shiplog(version: str, service: str = service) -> object:
            return deploy(desk, "bench", service, digests[version], "bench")

        if strategy == "rolling":
            hand = f"{namespace}-hand"
            docker(
                "service", "create", "--quiet", "--name", hand, "--replicas", str(replicas),
                "--health-cmd", HEALTH, "--health-interval", "1s", "--health-retries", "2",
                *UPDATE, images[first],
            )  # fmt: skip
            found[strategy] = Contest(shiplog, partial(update_by_hand, hand, images))
            continue
        proxy_image = desk.orchestrator_for(desk.config.environment("bench")).proxy_image()
        by_hand = set_up_by_hand(
            f"{namespace}-h{service}",
            proxy_image,
            images[first],
            replicas=replicas,
            health=HEALTH,
            ports=free_ports(),
        )

        def turn(version: str, h: HandProxied = by_hand, strategy: str = strategy) -> None:
            if strategy == "blue-green":
                h.blue_green(images[version])
            else:
                h.canary(images[version], CANARY_STEPS, CANARY_PAUSE, CANARY_INTERVAL)

        def before(h: HandProxied = by_hand) -> None:
            h.remove_idle()
            later = dataclasses.replace(desk, now=lambda: desk.now() + timedelta(days=1))
            retire_standbys(later, "bench")

        public = (ports[strategy][0], by_hand.handle.public_port)
        found[strategy] = Contest(shiplog, turn, before, public if strategy == "canary" else ())
    return found


def compete(contest: Contest, reps: int) -> dict[str, list[float]]:
    """`reps` turns each, alternating who goes first; seconds per turn."""
    figures: dict[str, list[float]] = {"shiplog": [], "hand": []}
    with contextlib.ExitStack() as stack:
        for port in contest.traffic:
            stack.enter_context(traffic(f"http://127.0.0.1:{port}/"))
        for rep in range(reps):
            version = VERSIONS[(rep + 1) % 2]
            turns = [("shiplog", contest.shiplog), ("hand", contest.hand)]
            for label, action in turns if rep % 2 == 0 else list(reversed(turns)):
                contest.before_turn()
                figures[label].append(timed(partial(action, version)))
    return figures


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the medians, the ratios and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    args = parser.parse_args(argv)
    reps = max(3, args.reps)
    strategies = [s for s in STRATEGIES if s in args.strategies.split(",")]
    admin_url = bench_admin_url()  # the embedded server it started is stopped at exit
    name = f"shiplog_bench_delivery_{uuid.uuid4().hex[:8]}"
    admin(admin_url, "CREATE DATABASE {}", name)
    owner_url = make_conninfo(admin_url, dbname=name)
    client = connect()
    ensure_busybox_image(client)
    if client.info().get("Swarm", {}).get("LocalNodeState") != "active":
        client.swarm.init(advertise_addr="127.0.0.1")
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    swarms = swarm_pool()
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as scratch, LocalRegistry() as registry:
        migrate(owner_url, migrations_dir())
        home = Path(scratch) / "home"
        (Path(scratch) / "osv").mkdir()
        settings = Settings(home=home, database_url=owner_url, osv_dir=Path(scratch) / "osv")
        app_url = login_as(owner_url, APP_ROLE)
        try:
            with EventStore(app_url) as store:
                (Path(scratch) / "repo").mkdir()
                digests = built(settings, store, app_url, Path(scratch) / "repo", registry)
                images = {v: f"{registry.address}/bench/hello@{digests[v]}" for v in VERSIONS}
                home.mkdir(parents=True, exist_ok=True)
                ports = {s: free_ports() for s in strategies if s != "rolling"}
                settings.environments_path.write_text(environments(namespace, args.replicas, ports))
                desk = open_desk(settings, store, swarms, app_url)
                found = contests(strategies, desk, namespace, args.replicas, digests, images, ports)
                for strategy in strategies:
                    results[strategy] = compete(found[strategy], reps)
        finally:
            remove_bench_objects(f"{namespace}-")
            swarms.close()
            admin(admin_url, DROP, name)
    hand_of = {
        "rolling": "docker service update",
        "blue-green": "service create + switch",
        "canary": "create + steps by hand",
    }
    print(f"{args.replicas} task(s), median of {reps} turns each (load {os.getloadavg()[0]:.1f}):")
    ratios = {}
    for strategy, figures in results.items():
        shiplog_s, hand_s = (statistics.median(figures[k]) for k in ("shiplog", "hand"))
        ratios[strategy] = shiplog_s / hand_s
        print(
            f"  {strategy:<11} shiplog deploy {shiplog_s:6.2f} s   "
            f"{hand_of[strategy]:<24} {hand_s:6.2f} s   ratio {ratios[strategy]:5.2f}"
        )
    print(json.dumps({
        "reps": reps, "replicas": args.replicas, "results": results, "ratios": ratios,
        "canary": {"steps": CANARY_STEPS, "pause_s": CANARY_PAUSE, "interval_s": CANARY_INTERVAL},
        "engine": engine_version(client), "python": platform.python_version(),
        "load": os.getloadavg(),
    }))  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
