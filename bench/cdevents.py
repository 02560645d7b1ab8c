"""CDEvents benchmark: export and import beside the plain services they build on.

    PYTHONPATH=$PWD .venv/bin/python -m bench.cdevents [--reps 3] [--runs 300] [--imports 300]

Export: a ledger of --runs runs (queued, claimed, three steps started and finished, a push,
succeeded: 10 events each) and as many deployments (started + succeeded) is read whole,
1000 at a time, by the CDEvents export (`export_page`: decode, look-ups, mapping) and by
the audit query it pages with (`EventStore.page` over the same types), in turns. Import:
--imports service.deployed CloudEvents through `import_cloudevent` (parse, schema
validation, identity check, record) beside as many equivalent `record_deployment` calls.
Each repetition uses a fresh database on the server SHIPLOG_BENCH_DATABASE_URL names (an
admin URL), else on the tests' embedded server under .test-home/ (started if need be and,
like every embedded server, left running: `shiplog db stop`). Figures are medians of --reps;
the last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import perf_counter
from typing import Any
from uuid import uuid4

from app.cdevents.exports import EXPORTED_TYPES
from app.queries.cdevents import export_page
from app.services.cdevents import import_cloudevent
from app.services.deployments import DeploymentReport, Reporter, record_deployment
from bench.server import bench_admin_url, fresh_database
from events.catalogue import Metadata
from events.lookups import EventQuery
from events.store import ANY, START, EventStore
from events.vocabulary import (
    ImagePushed,
    RunClaimed,
    RunQueued,
    RunSucceeded,
    StepFinished,
    StepStarted,
)

BENCH = Reporter("bench")
DIGEST = "sha256:" + "ab" * 32


@contextmanager
def fresh_store(admin_url: str) -> Iterator[EventStore]:
    """An event store on a new, migrated database, dropped afterwards."""
    with fresh_database(admin_url, "cdevents") as made, EventStore(made.app_url) as store:
        yield store


def fill(store: EventStore, runs: int) -> None:
    """`runs` runs of 10 events each and `runs` deployments of their images."""
    meta = Metadata(actor="bench", source="bench")
    for n in range(runs):
        digest = f"sha256:{n:064x}"
        run = RunQueued(
            repository="https://git.example/acme/web.git",
            commit=f"{n:040x}",
            ref="refs/heads/main",
            trigger="push",
            pipeline_path=".shiplog.yml",
            pipeline_digest=DIGEST,
        )
        events: list[Any] = [run, RunClaimed(runner="r", runner_version="1")]
        for step in ("build", "test", "push"):
            events.append(StepStarted(step=step, image="busybox", commands_digest=DIGEST))
            events.append(
                StepFinished(
                    step=step, exit_code=0, duration_ms=5, log_sha256="b" * 64, log_lines=1
                )
            )
        events.append(ImagePushed(step="push", repository="reg/acme/web", tag="1", digest=digest))
        events.append(RunSucceeded(duration_ms=50))
        store.append(f"run-{uuid4()}", events, ANY, meta)
        deployment = DeploymentReport("production", "web", digest, "succeeded", f"d{n}")
        record_deployment(store, deployment, BENCH)


def read_all(page: Callable[[Any], tuple[int, Any, bool]]) -> int:
    """Call `page(after)` until it says there is no more; the number of items read."""
    after, total, more = START, 0, True
    while more:
        count, after, more = page(after)
        total += count
    return total


def export_case(store: EventStore) -> tuple[float, float, int]:
    """Seconds to read the ledger by export_page and by EventStore.page, and the item count."""

    def exported(after: Any) -> tuple[int, Any, bool]:
        page = export_page(store, after, 1000, "shiplog")
        return len(page.events), page.next, page.more

    def audited(after: Any) -> tuple[int, Any, bool]:
        page = store.page(EventQuery(types=EXPORTED_TYPES, after=after, limit=1000))
        return len(page.events), page.next, page.next is not None

    start = perf_counter()
    count = read_all(exported)
    middle = perf_counter()
    assert read_all(audited) == count
    return middle - start, perf_counter() - middle, count


def cloudevent(n: int) -> dict[str, Any]:
    """The n-th service.deployed CloudEvent of the import case."""
    kind = "dev.cdevents.service.deployed.0.3.0"
    when = "2026-03-01T10:00:00Z"
    context = {"specversion": "0.5.1", "id": f"e{n}", "source": "bench", "type": kind}
    content = {"environment": {"id": "staging"}, "artifactId": f"pkg:oci/web@{DIGEST}"}
    return {
        "specversion": "1.0",
        "id": f"e{n}",
        "source": "bench",
        "type": kind,
        "data": {
            "context": context | {"timestamp": when},
            "subject": {"id": "web", "content": content},
        },
    }


def import_case(store: EventStore, count: int) -> tuple[float, float]:
    """Seconds for `count` CloudEvent imports and for `count` direct record_deployment calls."""
    start = perf_counter()
    for n in range(count):
        import_cloudevent(store, cloudevent(n), BENCH)
    middle = perf_counter()
    for n in range(count):
        record_deployment(store, DeploymentReport("qa", "web", DIGEST, "succeeded", f"q{n}"), BENCH)
    return middle - start, perf_counter() - middle


def main(argv: list[str] | None = None) -> None:
    """Run both cases --reps times and print medians and ratios."""
    parser = argparse.ArgumentParser(prog="bench.cdevents")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--imports", type=int, default=300)
    args = parser.parse_args(argv)
    admin_url = bench_admin_url()
    rows: dict[str, list[float]] = {"export": [], "audit": [], "import": [], "record": []}
    items = 0
    for _ in range(max(args.reps, 1)):
        with fresh_store(admin_url) as store:
            fill(store, args.runs)
            export_s, audit_s, items = export_case(store)
            import_s, record_s = import_case(store, args.imports)
        for key, value in zip(rows, (export_s, audit_s, import_s, record_s), strict=True):
            rows[key].append(value)
    med = {key: statistics.median(values) for key, values in rows.items()}
    result = {
        "items_exported": items,
        "export_items_per_s": round(items / med["export"]),
        "audit_items_per_s": round(items / med["audit"]),
        "export_vs_audit_time": round(med["export"] / med["audit"], 2),
        "imports_per_s": round(args.imports / med["import"]),
        "record_deployment_per_s": round(args.imports / med["record"]),
        "import_vs_record_time": round(med["import"] / med["record"], 2),
        "reps": len(rows["export"]),
    }
    for key, value in result.items():
        print(f"{key:>28}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
