"""Sandbox benchmark: a step in shiplog's sandbox beside plain containers, confined or not.

    .venv/bin/python -m bench.sandbox [--steps 20] [--reps 5]

Each case starts --steps containers of `shiplog/busybox:1` running `true`, one after the
other, on one bridge network made for the benchmark, and waits for each to end:

- **SDK, plain**: `containers.run(..., remove=True)`, no limits: what a script does;
- **SDK, confined**: the same with the sandbox's options (memory, CPU and pid limits,
  `cap_drop: ALL` plus the allow-list, `no-new-privileges`): what the limits cost the engine;
- **shiplog step**: `run_command_step` with the default sandbox, as a run does it (image
  and user look-up, the probe shell, the cgroup watch, the log stream and its tail, the
  OOM check, removal), without the ledger.

The three take turns in each repetition; figures are medians. Everything made is
labelled with the benchmark's own run id and removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from time import perf_counter
from typing import Any

from app.config import Settings
from app.engine import connect, ensure_busybox_image
from app.executor.actions.containers import (
    RunContext,
    cleanup_run,
    prepare_run,
    run_command_step,
)
from app.executor.actions.support import RUN_LABEL
from app.executor.runner import sandbox_policy
from app.pipeline import CommandStep

IMAGE = "shiplog/busybox:1"


def main() -> None:
    """Run the three cases in turns and print their medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--reps", type=int, default=5)
    options = parser.parse_args()
    client = connect()
    ensure_busybox_image(client)
    run_id = f"bench-sandbox-{uuid.uuid4()}"
    labels = {RUN_LABEL: run_id}
    sandbox = sandbox_policy(Settings())
    step = CommandStep(name="bench", image=IMAGE, commands=("true",))
    try:
        network = prepare_run(client, run_id, labels)
        with tempfile.TemporaryDirectory(prefix="shiplog-bench-sandbox-") as workspace:
            ctx = RunContext(client, run_id, Path(workspace), network, labels, threading.Event())
            confined = sandbox.container_options("bench", step, None, network)

            def sdk(extra: dict[str, Any]) -> None:
                client.containers.run(
                    IMAGE, ["true"], remove=True, labels=labels, **{"network": network, **extra}
                )

            def shiplog() -> None:
                run_command_step(
                    ctx,
                    step,
                    image=IMAGE,
                    secrets={},
                    log=lambda line: None,
                    on_started=lambda *facts: None,
                    timeout=60,
                    sandbox=sandbox,
                )

            cases: dict[str, Callable[[], None]] = {
                "SDK, plain": lambda: sdk({}),
                "SDK, confined": lambda: sdk(confined),
                "shiplog step": shiplog,
            }
            timings: dict[str, list[float]] = {name: [] for name in cases}
            for case in cases.values():
                case()  # warm-up
            for repetition in range(options.reps):
                names = list(cases)
                order = names[repetition % 3 :] + names[: repetition % 3]
                for name in order:
                    started = perf_counter()
                    for _ in range(options.steps):
                        cases[name]()
                    timings[name].append((perf_counter() - started) / options.steps)
    finally:
        cleanup_run(client, run_id)
        client.close()
    medians = {name: statistics.median(values) for name, values in timings.items()}
    baseline = medians["SDK, plain"]
    print(
        f"{options.steps} containers a case, median of {options.reps}; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    for name, seconds in medians.items():
        print(f"  {name:14} {seconds * 1000:8.1f} ms a container  {seconds / baseline:5.2f}x")
    print(json.dumps({"steps": options.steps, "reps": options.reps, "seconds": medians}))


if __name__ == "__main__":
    main()
