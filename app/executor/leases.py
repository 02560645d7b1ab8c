"""Who works on which run: claims to look for, heartbeats to keep, and lost runners to notice.

Heartbeats live in run_leases, not in the ledger (migrations/0007). A runner
refreshes its rows every `heartbeat_interval`; a claimed, unfinished run whose
row is missing or older than `heartbeat_timeout` has lost its runner. The
reaper then fails it with reason `runner-lost` at the version it read, so if
the runner was merely slow and appended meanwhile, the reaper's append fails
and nothing is overwritten. A lost run is never re-run: its steps may have had
effects (a push), and a second execution would be a silent repeat.

These queries read the events table directly; once the runs projection exists
(issue 4) they should read that instead.
"""

from __future__ import annotations

from typing import Any

import psycopg

from app.executor.runs import TERMINAL_TYPES

_QUEUED = """
SELECT substr(q.stream, 5)
FROM events q
WHERE q.type = 'RunQueued'
  AND NOT EXISTS (SELECT 1 FROM events later WHERE later.stream = q.stream AND later.version > 0)
ORDER BY q.position
LIMIT %s
"""

# Claimed, unfinished, and no fresh heartbeat. The claim itself must be older than
# the timeout too: a runner appends RunClaimed first and inserts its lease just after.
_LOST = """
SELECT substr(c.stream, 5)
FROM events c
WHERE c.type = 'RunClaimed'
  AND c.recorded_at < now() - make_interval(secs => %(timeout)s)
  AND NOT EXISTS (
      SELECT 1 FROM events t WHERE t.stream = c.stream AND t.type = ANY(%(terminal)s))
  AND NOT EXISTS (
      SELECT 1 FROM run_leases l
      WHERE l.run_id = substr(c.stream, 5)::uuid
        AND l.heartbeat_at > now() - make_interval(secs => %(timeout)s))
ORDER BY c.position
"""

_STALE_LEASES = """
SELECT run_id::text FROM run_leases
WHERE heartbeat_at < now() - make_interval(secs => %s)
"""


def queued_runs(conn: psycopg.Connection[Any], limit: int) -> list[str]:
    """Ids of runs queued and not yet claimed (nor cancelled), oldest first."""
    return [row[0] for row in conn.execute(_QUEUED, (limit,)).fetchall()]


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


def lost_runs(conn: psycopg.Connection[Any], timeout_seconds: float) -> list[str]:
    """Claimed, unfinished runs whose runner has not been heard of within the timeout."""
    rows = conn.execute(
        _LOST, {"timeout": timeout_seconds, "terminal": list(TERMINAL_TYPES)}
    ).fetchall()
    return [row[0] for row in rows]


def stale_leases(conn: psycopg.Connection[Any], timeout_seconds: float) -> list[str]:
    """Runs whose heartbeat row went stale (finished or not): their containers need removing."""
    return [row[0] for row in conn.execute(_STALE_LEASES, (timeout_seconds,)).fetchall()]
