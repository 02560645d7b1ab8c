"""Who works on which run: claims to look for, heartbeats to keep, and lost runners to notice.

Heartbeats live in run_leases, not in the ledger (migrations/0007). A runner
refreshes its rows every `heartbeat_interval`; a claimed, unfinished run whose
row is missing or older than `heartbeat_timeout` has lost its runner. The
reaper then fails it with reason `runner-lost` at the version it read, so if
the runner was merely slow and appended meanwhile, the reaper's append fails
and nothing is overwritten. A lost run is never re-run: its steps may have had
effects (a push), and a second execution would be a silent repeat.

Which runs are queued or claimed is the ledger's to say (EventStore.waiting_streams
and open_streams); run_leases is the executor's own table.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg

from app.executor.runs import TERMINAL_TYPES
from events.store import EventStore
from events.vocabulary import RunClaimed, RunQueued

_RUN_PREFIX = "run-"

# The database's clock, not this host's, decides what is stale: runners on several
# hosts must agree on it.
_FRESH_LEASES = """
SELECT now(), coalesce(array_agg(run_id::text), '{}') FROM run_leases
WHERE heartbeat_at > now() - make_interval(secs => %s)
"""

_STALE_LEASES = """
SELECT run_id::text, runner FROM run_leases
WHERE heartbeat_at < now() - make_interval(secs => %s)
"""


def queued_runs(store: EventStore, limit: int) -> list[str]:
    """Ids of runs queued and not yet claimed (nor cancelled), oldest first."""
    return _run_ids(store.waiting_streams(RunQueued.type_name, limit))


def take(conn: psycopg.Connection[Any], run_id: str, runner: str) -> None:
    """Start the heartbeat row of a run this runner has just claimed."""
    conn.execute(
        "INSERT INTO run_leases (run_id, runner) VALUES (%s, %s) "
        "ON CONFLICT (run_id) DO UPDATE SET runner = EXCLUDED.runner, heartbeat_at = now()",
        (run_id, runner),
    )


def beat(conn: psycopg.Connection[Any], runner: str, run_ids: list[str]) -> None:
    """Refresh the heartbeat of every run this runner works on."""
    if run_ids:
        conn.execute(
            "UPDATE run_leases SET heartbeat_at = now() WHERE runner = %s AND run_id = ANY(%s)",
            (runner, run_ids),
        )


def release(conn: psycopg.Connection[Any], run_id: str) -> None:
    """Drop a run's heartbeat row once the run has ended and its containers are gone."""
    conn.execute("DELETE FROM run_leases WHERE run_id = %s", (run_id,))


def lost_runs(store: EventStore, timeout_seconds: float) -> list[str]:
    """Claimed, unfinished runs whose runner has not been heard of within the timeout.

    The claim itself must be older than the timeout too: a runner appends RunClaimed
    first and inserts its lease just after. Leases are read before the ledger, so a
    run that ends and drops its lease in between is left out, not taken for lost.
    """
    with store.connection() as conn:
        now, fresh = conn.execute(_FRESH_LEASES, (timeout_seconds,)).fetchall()[0]
    claimed = store.open_streams(
        RunClaimed.type_name, TERMINAL_TYPES, now - timedelta(seconds=timeout_seconds)
    )
    alive = set(fresh)
    return [run_id for run_id in _run_ids(claimed) if run_id not in alive]


def stale_leases(conn: psycopg.Connection[Any], timeout_seconds: float) -> dict[str, str]:
    """Runs whose heartbeat row went stale (finished or not), each with its runner's name.

    Their containers need removing, and so do the pooled networks of their runner.
    """
    return dict(conn.execute(_STALE_LEASES, (timeout_seconds,)).fetchall())


def _run_ids(streams: list[str]) -> list[str]:
    return [stream.removeprefix(_RUN_PREFIX) for stream in streams]
