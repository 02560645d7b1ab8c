"""Request body limits: what an oversized body costs the server with the limit and without it.

    .venv/bin/python -m bench.limits [--mib 64] [--reps 3]

One process, one database (bench.ledger's Server: SHIPLOG_BENCH_DATABASE_URL, else the
embedded server under .bench-home/). The application `create_app` builds answers
POST /api/deployments with a report whose `service` is --mib MiB long, sent in 64 KiB
chunks without a Content-Length (the case a length check alone cannot stop), by an
ASGI call in this process (no HTTP client holds the body). Beside it, in turns, the
same application without its BodyLimit middleware: the baseline, what shiplog did
before (read the whole body, parse it, validate it, echo it back in the 422). Figures:
the peak of Python's heap during the request (tracemalloc, which counts every
allocation of the request in this process: the body, its parse, the answer), the wall
time (with tracemalloc on, so slower than without it, alike for both), and the
answer's status and size. Medians of --reps; the last line printed is one JSON object
with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from tempfile import TemporaryDirectory
from time import perf_counter
from typing import Any

from fastapi import FastAPI
from starlette.types import Message

from app.config import Settings
from app.database import start_embedded
from app.http_limits import BodyLimit
from app.server import create_app
from bench.ledger import Server
from bench.paths import BENCH_HOME

CHUNK = 64 * 1024
HEAD = (
    b'{"environment": "production", "status": "started", "image_digest": "sha256:'
    + b"ab" * 32
    + b'", "service": "'
)


def report(mib: int) -> Iterator[bytes]:
    """A deployment report whose service name is `mib` MiB of `x`, in 64 KiB chunks."""
    yield HEAD
    for _ in range(mib * 1024 * 1024 // CHUNK):
        yield b"x" * CHUNK
    yield b'"}'


def without_limit(app: FastAPI) -> FastAPI:
    """`app` with its BodyLimit middleware taken out (before the stack is first built)."""
    app.user_middleware = [m for m in app.user_middleware if m.cls is not BodyLimit]
    return app


async def measure(app: FastAPI, mib: int) -> dict[str, Any]:
    """One oversized report through `app` (ASGI): peak heap, time, status and answer size."""
    chunks = report(mib)
    done = asyncio.Event()
    answer: dict[str, Any] = {"status": 0, "answer_bytes": 0}

    async def receive() -> Message:
        chunk = next(chunks, None)
        if chunk is not None:
            return {"type": "http.request", "body": chunk, "more_body": True}
        if not answer["status"]:  # the body's end, once
            answer["status"] = -1
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["answer_bytes"] += len(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/deployments", "raw_path": b"/api/deployments",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080), "headers": [(b"content-type", b"application/json")],
    }  # fmt: skip
    tracemalloc.start()
    start = perf_counter()
    await app(scope, receive, send)
    seconds = perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"peak_mib": peak / 1024 / 1024, "seconds": seconds, **answer}


async def compare(settings: Settings, mib: int, reps: int) -> dict[str, list[dict[str, Any]]]:
    """--reps measurements of each application, in turns, their lifespans running."""
    limited, baseline = create_app(settings), without_limit(create_app(settings))
    results: dict[str, list[dict[str, Any]]] = {"limited": [], "baseline": []}
    async with limited.router.lifespan_context(limited), baseline.router.lifespan_context(baseline):
        for _ in range(reps):
            results["baseline"].append(await measure(baseline, mib))
            results["limited"].append(await measure(limited, mib))
    return results


def main() -> None:
    """Run the comparison and print it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=64, help="size of the body, in MiB")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (medians)")
    options = parser.parse_args()
    admin = os.environ.get("SHIPLOG_BENCH_DATABASE_URL") or start_embedded(BENCH_HOME)
    server = Server(admin)
    try:
        with server.database() as url, TemporaryDirectory() as home:
            settings = Settings(home=Path(home), database_url=url)
            results = asyncio.run(compare(settings, options.mib, options.reps))
    finally:
        server.close()
    medians = {
        name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for name, runs in results.items()
    }
    print(f"POST /api/deployments with a {options.mib} MiB body, chunked, medians of "
          f"{options.reps}:")  # fmt: skip
    print(f"{'':10} {'status':>6} {'answer':>12} {'peak heap':>12} {'time':>9}")
    for name in ("baseline", "limited"):
        m = medians[name]
        print(f"{name:10} {int(m['status']):6d} {int(m['answer_bytes']):10d} B "
              f"{m['peak_mib']:9.1f} MiB {m['seconds']:8.3f}s")  # fmt: skip
    ratio_heap = medians["baseline"]["peak_mib"] / medians["limited"]["peak_mib"]
    ratio_time = medians["baseline"]["seconds"] / medians["limited"]["seconds"]
    print(f"baseline / limited: peak heap x{ratio_heap:.0f}, time x{ratio_time:.0f}")
    print(json.dumps({"mib": options.mib, "reps": options.reps, "medians": medians}))


if __name__ == "__main__":
    main()
