"""Provenance benchmark: what signing adds to a run, and serving a statement beside the image query.

    .venv/bin/python -m bench.provenance [--runs 300] [--reps 100]

One fresh database on the server SHIPLOG_BENCH_DATABASE_URL names (else shiplog's
embedded server under .bench-home/, left running like every embedded server: stop it
with `SHIPLOG_HOME=$PWD/.bench-home shiplog db stop`) gets `--runs` runs of the
13 events of bench.projections (build, test, push of one image), appended through the
event store, and the projections are caught up. Then, in one process:

1. per run, recording its outcome (one append: the baseline) against signing its
   provenance as the runner does (read the stream, build the statement, sign, store the
   envelope, append ProvenanceSigned): p50/p95 of each and the ratio of the p50s;
2. p50/p95 server time of the provenance statement (the GET /provenance service) against
   the image facts from the images projection (GET /api/images/{digest}'s query);
3. p50/p95 of `verify_envelope` on one stored envelope (offline verification).

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import uuid
from time import perf_counter
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.database import login_as
from app.projections import projector
from app.provenance.attestations import Attestor
from app.provenance.dsse import verify_envelope
from app.queries.images import find_image
from app.queries.provenance import attestation, provenance
from bench.ledger import APP_ROLE, Server
from bench.projections import latencies, run_events
from bench.server import bench_admin_url
from events.catalogue import Metadata
from events.store import NO_STREAM, EventStore
from events.vocabulary import RunFailed

META = Metadata(actor="runner:bench", source="runner")


def fill(store: EventStore, runs: int) -> list[str]:
    """Append `runs` runs without their outcome; their ids."""
    chance, ids = random.Random(7), []
    for n in range(runs):
        run_id = str(uuid.uuid4())
        store.append(f"run-{run_id}", run_events(n, chance)[:-1], NO_STREAM, META)
        ids.append(run_id)
    return ids


def per_run(
    store: EventStore, ids: list[str], key: Ed25519PrivateKey
) -> dict[str, dict[str, float]]:
    """Outcome append (baseline) for half the runs, then signing for the other half."""
    attestor = Attestor(key, store)
    half = len(ids) // 2
    outcome, signing = iter(ids[:half]), iter(ids[half:])

    def record_outcome() -> None:
        run_id = next(outcome)
        store.append(f"run-{run_id}", [RunFailed(reason="bench")], "any", META)

    def sign() -> None:
        run_id = next(signing)
        signed = attestor.sign_run(run_id, store.read_stream(f"run-{run_id}"))
        store.append(f"run-{run_id}", signed, "any", META)

    reps = half - 2  # latencies() makes two warm-up calls
    return {"record_outcome": latencies(record_outcome, reps), "sign_run": latencies(sign, reps)}


def main(argv: list[str] | None = None) -> None:
    """Fill a database, measure, print a table and the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.provenance", description=__doc__)
    parser.add_argument("--runs", type=int, default=300, help="runs recorded")
    parser.add_argument("--reps", type=int, default=100, help="calls per query latency")
    args = parser.parse_args(argv)
    admin_url = bench_admin_url()
    server = Server(admin_url)
    started = perf_counter()
    try:
        with server.database() as owner_url, EventStore(login_as(owner_url, APP_ROLE)) as store:
            ids = fill(store, args.runs)
            key = Ed25519PrivateKey.generate()
            figures: dict[str, Any] = per_run(store, ids, key)
            projector(store).catch_up_all()
            chance = random.Random(11)
            digests = [f"sha256:e{n:063x}" for n in range(args.runs // 2, args.runs)]

            def statement() -> None:
                provenance(store, chance.choice(digests))

            def facts() -> None:
                find_image(store, chance.choice(digests))

            figures["image_facts"] = latencies(facts, args.reps)
            figures["provenance"] = latencies(statement, args.reps)
            envelope = attestation(store, digests[0])
            figures["verify_envelope"] = latencies(
                lambda: verify_envelope(envelope, key.public_key()), args.reps
            )
    finally:
        server.close()
    sign, outcome = figures["sign_run"]["p50_ms"], figures["record_outcome"]["p50_ms"]
    served, query = figures["provenance"]["p50_ms"], figures["image_facts"]["p50_ms"]
    print()
    for name in ("record_outcome", "sign_run", "image_facts", "provenance", "verify_envelope"):
        row = figures[name]
        print(f"{name:<16} p50 {row['p50_ms']:>7.2f} ms   p95 {row['p95_ms']:>7.2f} ms")
    print(f"sign_run / record_outcome (p50): {sign / outcome:.2f}")
    print(f"provenance / image_facts (p50):  {served / query:.2f}")
    report = {
        "runs": args.runs, "reps": args.reps, **figures,
        "sign_ratio": round(sign / outcome, 2), "serve_ratio": round(served / query, 2),
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "seconds": round(perf_counter() - started, 1), "loadavg": os.getloadavg(),
    }  # fmt: skip
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
