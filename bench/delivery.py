"""Delivery benchmark: a rolling rollout by `shiplog deploy` beside the same change by hand.

    .venv/bin/python -m bench.delivery [--reps 5] [--replicas 2]

Set-up (not timed): a fresh database on the embedded server under .bench-home/ (or on
SHIPLOG_BENCH_DATABASE_URL, an admin URL), a loopback registry, the engine as a one-node
swarm, and one real run of a pipeline over examples/hello that builds, tests, pushes and
scans two versions (so both digests have their evidence). Two identical swarm services
are made: one that shiplog delivers to (environment `bench`), one made and updated by
hand with the docker CLI; both with --replicas tasks, the same health check, and the
same update settings (parallelism 1, delay 0s, start-first, monitor 2s, failure action
rollback, max failure ratio 0).

Timed, --reps times, the two taking turns (a different one first each time), each
moving its service to the other version:

- shiplog: `deploy(...)` as `shiplog deploy` does it: read the environments file, the
  ledger (rules, pins, the evidence gates: provenance verified, scan, tests),
  DeploymentRequested, DeploymentStarted, the Swarm update followed to its end,
  DeploymentSucceeded.
- by hand: `docker service update --image <repository>@<digest> SERVICE`, which also
  waits until the update converged.

Figures are medians; the ratio is shiplog's over the hand's. The last line printed is one
JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from time import perf_counter
from typing import Any

from psycopg.conninfo import make_conninfo

from app.config import Settings
from app.database import start_embedded, with_role
from app.engine import LocalRegistry, connect, engine_version, ensure_busybox_image
from app.executor.execution import Observers
from app.executor.local import run_here
from app.resources import example_dir, migrations_dir
from app.services.delivery import deploy, open_desk, swarm_pool
from app.services.runs import queue_checkout
from bench.executor import DROP, admin
from bench.paths import BENCH_HOME
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


def environments(namespace: str, replicas: int) -> str:
    """The bench environment: one rolling service with the hand's settings."""
    return json.dumps(
        {
            "environments": [
                {
                    "name": "bench",
                    "target": {"namespace": namespace},
                    "services": {
                        "web": {
                            "replicas": replicas,
                            "health": {"command": HEALTH, "interval": "1s", "retries": 2},
                            "rolling": {"parallelism": 1, "delay": 0, "monitor": "2s"},
                        }
                    },
                }
            ]
        }
    )


def built(
    settings: Settings, store: EventStore, app_url: str, root: Path, registry: Any
) -> dict[str, str]:
    """Run the two-version pipeline for real; the manifest digest of each version."""
    for name in ("Dockerfile", "app.sh", "test.sh"):
        shutil.copy(example_dir("hello") / name, root / name)
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


def update_by_hand(service: str, image: str) -> None:
    """`docker service update --image IMAGE SERVICE`, which waits until it converged."""
    subprocess.run(
        ["docker", "service", "update", "--image", image, service], check=True, capture_output=True
    )


def timed(action: Callable[[], object]) -> float:
    """Seconds `action` takes."""
    start = perf_counter()
    action()
    return perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the medians, the ratio and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args(argv)
    reps = max(3, args.reps)
    admin_url = os.environ.get("SHIPLOG_BENCH_DATABASE_URL") or start_embedded(BENCH_HOME)
    name = f"shiplog_bench_delivery_{uuid.uuid4().hex[:8]}"
    admin(admin_url, "CREATE DATABASE {}", name)
    owner_url = make_conninfo(admin_url, dbname=name)
    client = connect()
    ensure_busybox_image(client)
    if client.info().get("Swarm", {}).get("LocalNodeState") != "active":
        client.swarm.init(advertise_addr="127.0.0.1")
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    hand = f"{namespace}-hand"
    swarms = swarm_pool()
    with tempfile.TemporaryDirectory() as scratch, LocalRegistry() as registry:
        migrate(owner_url, migrations_dir())
        home = Path(scratch) / "home"
        (Path(scratch) / "osv").mkdir()
        settings = Settings(home=home, database_url=owner_url, osv_dir=Path(scratch) / "osv")
        app_url = with_role(owner_url, APP_ROLE)
        try:
            with EventStore(app_url) as store:
                (Path(scratch) / "repo").mkdir()
                digests = built(settings, store, app_url, Path(scratch) / "repo", registry)
                images = [f"{registry.address}/bench/hello@{digests[v]}" for v in VERSIONS]
                home.mkdir(parents=True, exist_ok=True)
                settings.environments_path.write_text(environments(namespace, args.replicas))
                desk = open_desk(settings, store, swarms, app_url)
                subprocess.run(
                    ["docker", "service", "create", "--quiet", "--name", hand,
                     "--replicas", str(args.replicas), "--health-cmd", HEALTH,
                     "--health-interval", "1s", "--health-retries", "2", *UPDATE, images[0]],
                    check=True, capture_output=True,
                )  # fmt: skip
                deploy(desk, "bench", "web", digests[VERSIONS[0]], "bench")
                figures: dict[str, list[float]] = {"shiplog": [], "hand": []}
                for rep in range(reps):
                    version = VERSIONS[(rep + 1) % 2]
                    image = images[(rep + 1) % 2]
                    turns: list[tuple[str, Callable[[], object]]] = [
                        (
                            "shiplog",
                            partial(deploy, desk, "bench", "web", digests[version], "bench"),
                        ),
                        ("hand", partial(update_by_hand, hand, image)),
                    ]
                    for label, action in turns if rep % 2 == 0 else list(reversed(turns)):
                        figures[label].append(timed(action))
        finally:
            services = [hand, f"{namespace}-web"]
            subprocess.run(["docker", "service", "rm", *services], capture_output=True, check=False)
            swarms.close()
            admin(admin_url, DROP, name)
    shiplog_s, hand_s = (statistics.median(figures[k]) for k in ("shiplog", "hand"))
    print(f"rolling update of {args.replicas} task(s), median of {reps}:")
    print(f"  shiplog deploy           {shiplog_s:6.2f} s")
    print(f"  docker service update    {hand_s:6.2f} s")
    print(f"  ratio shiplog / by hand  {shiplog_s / hand_s:6.2f}")
    print(json.dumps({
        "reps": reps, "replicas": args.replicas, "shiplog_s": figures["shiplog"],
        "hand_s": figures["hand"], "ratio": shiplog_s / hand_s,
        "engine": engine_version(client), "python": platform.python_version(),
        "load": os.getloadavg(),
    }))  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
