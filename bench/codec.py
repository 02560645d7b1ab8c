"""Client-side cost per event of the ledger's encoding and decoding, beside alternatives.

    .venv/bin/python -m bench.codec [--events 20000] [--rounds 7]

No database: this measures the Python an append or a read spends per event, where
the server is not involved, so that what bounds the ledger's targets can be named.
Every case is timed against its alternatives in turns (A B C, A B C, ...) for
`--rounds` rounds in one process, and each ratio is the median of the per-round
ratios. The cases, on StepFinished events like bench/ledger.py's:

1. the canonical form (RFC 8785) of an event document: the `rfc8785` reference
   implementation, the standard library's json with sorted keys (byte-identical for
   these values), and what appends do now (orjson for the payload, the envelope's
   shared parts once per batch);
2. a stored payload at the current schema version back into its class: pydantic's
   strict `model_validate_json` (what reads do), `model_construct` over orjson's parse
   (no validation), and orjson's parse alone (the floor: no objects built);
3. a payload stored at schema version 1 upcast to the current version: parsing and
   printing with the json module, and with orjson (what reads do now).

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from datetime import UTC, datetime
from time import perf_counter
from typing import Any
from uuid import uuid4

import orjson
import rfc8785

from bench.ledger import metadata, payload
from events.canonical import Envelope, canonical_json, canonical_payload, event_document
from events.vocabulary import CATALOGUE, StepFinished

Case = dict[str, Callable[[], object]]


def timed(cases: Case, rounds: int, events: int) -> dict[str, Any]:
    """µs per event of each alternative and its median per-round ratio to the first."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, work in cases.items():
            start = perf_counter()
            work()
            times[name].append(perf_counter() - start)
    first = next(iter(cases))
    return {
        name: {
            "us_per_event": round(1e6 * statistics.median(spent) / events, 2),
            "ratio_to_first": round(
                statistics.median(a / b for a, b in zip(spent, times[first], strict=True)), 3
            ),
        }
        for name, spent in times.items()
    }


def encoding(events: int) -> Case:
    """Case 1: three ways to the same canonical bytes."""
    run = uuid4()
    meta = metadata(run, 0).to_json()
    stream, at = f"run-{run}", datetime.now(UTC)
    payloads = [StepFinished(**payload(n)).model_dump(mode="json") for n in range(events)]
    ids = [uuid4() for _ in range(events)]

    def documents() -> list[dict[str, Any]]:
        return [
            event_document(
                stream=stream,
                version=n,
                event_id=ids[n],
                type_name="StepFinished",
                schema_version=2,
                data=data,
                metadata=meta,
                recorded_at=at,
            )
            for n, data in enumerate(payloads)
        ]

    def stdlib() -> list[bytes]:
        return [
            json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            for doc in documents()
        ]

    def envelope() -> list[bytes]:
        shared = Envelope(stream, canonical_json(meta), at)
        return [
            shared.canonical(
                data=canonical_payload(data),
                event_id=ids[n],
                type_name="StepFinished",
                schema_version=2,
                version=n,
            )
            for n, data in enumerate(payloads)
        ]

    reference = [bytes(rfc8785.dumps(doc)) for doc in documents()]
    if stdlib() != reference or envelope() != reference:
        raise AssertionError("the three encodings differ")
    return {
        "rfc8785 reference": lambda: [rfc8785.dumps(doc) for doc in documents()],
        "json, sorted keys": stdlib,
        "orjson + envelope (appends)": envelope,
    }


def decoding(events: int) -> Case:
    """Case 2: a current-version payload into StepFinished, three ways."""
    texts = [StepFinished(**payload(n)).model_dump_json() for n in range(events)]
    return {
        "model_validate_json (reads)": lambda: [
            StepFinished.model_validate_json(t, strict=True) for t in texts
        ],
        "orjson + model_construct": lambda: [
            StepFinished.model_construct(**orjson.loads(t)) for t in texts
        ],
        "orjson.loads alone (floor)": lambda: [orjson.loads(t) for t in texts],
    }


def upcasting(events: int) -> Case:
    """Case 3: a schema version 1 payload upcast, with each JSON library."""
    old = [json.dumps(payload(n)) for n in range(events)]
    step = CATALOGUE._upcasters[("StepFinished", 1)]

    def with_json() -> list[StepFinished]:
        return [
            StepFinished.model_validate_json(json.dumps(step(json.loads(t))), strict=True)
            for t in old
        ]

    def reads() -> list[object]:
        return [CATALOGUE.decode("StepFinished", 1, t) for t in old]

    return {"json module": with_json, "orjson (reads)": reads}


def main(argv: list[str] | None = None) -> None:
    """Run the three cases and print µs per event and the ratios."""
    parser = argparse.ArgumentParser(prog="python -m bench.codec", description=__doc__)
    parser.add_argument("--events", type=int, default=20_000, help="events per timed call")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of turns (>= 3)")
    args = parser.parse_args(argv)
    if args.rounds < 3:
        parser.error("--rounds must be at least 3: figures are medians")
    report = {}
    for label, make in (("1. canonical form", encoding), ("2. decode", decoding),
                        ("3. upcast v1", upcasting)):  # fmt: skip
        figures = timed(make(args.events), args.rounds, args.events)
        report[label] = figures
        print(label)
        for name, figure in figures.items():
            print(
                f"   {name:32} {figure['us_per_event']:8.2f} µs/event  x{figure['ratio_to_first']}"
            )
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
