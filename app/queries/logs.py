"""Step logs read back: a page of lines, a live follow, and the digest recomputed for --verify.

The runner writes the `step_logs` table (app/executor/logs.py); its contract (the
digest, the NOTIFY channel) is in app/steplogs.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg

from app.steplogs import NOTIFY_CHANNEL, LogDigest, Source, run_uuid, stored_digest
from events.store import EventStore

ReadSource = Source | psycopg.Connection[Any]
"""Where a reader finds logs: a Source, or a connection of the caller's (left open)."""

_SELECT = """
SELECT line_no, line, logged_at FROM step_logs
WHERE run_id = %s::uuid AND step = %s::text AND line_no > %s ORDER BY line_no LIMIT %s
"""


@dataclass(frozen=True)
class LogLine:
    """One stored line of a step's log."""

    line_no: int
    text: str
    logged_at: datetime


@contextmanager
def _connection(source: ReadSource) -> Iterator[psycopg.Connection[Any]]:
    if isinstance(source, str):
        with psycopg.connect(source, autocommit=True) as conn:
            yield conn
    elif isinstance(source, psycopg.Connection):  # the caller's own, left open
        yield source
    else:
        with source.connection() as conn:
            yield conn


def _read(
    conn: psycopg.Connection[Any], run_id: UUID | str, step: str, after_line: int, limit: int | None
) -> list[LogLine]:
    rows = conn.execute(_SELECT, (run_uuid(run_id), step, after_line, limit)).fetchall()
    return [LogLine(line_no, line, logged_at) for line_no, line, logged_at in rows]


def read_log(
    conninfo: ReadSource,
    run_id: UUID | str,
    step: str,
    *,
    after_line: int = 0,
    limit: int | None = None,
) -> list[LogLine]:
    """The stored lines of a step's log after line number `after_line`, in order."""
    with _connection(conninfo) as conn:
        return _read(conn, run_id, step, after_line, limit)


def log_page(
    store: EventStore, run_id: UUID | str, step: str, *, after_line: int, limit: int
) -> list[LogLine]:
    """Up to `limit` lines of a step's log after line `after_line`, on a pooled connection."""
    with store.connection() as conn:
        return _read(conn, run_id, step, after_line, limit)


def first_lines(
    store: EventStore, run_id: UUID | str, steps: Sequence[str], limit: int
) -> dict[str, list[LogLine]]:
    """The first `limit` lines of each step's log, read on one pooled connection."""
    with store.connection() as conn:
        return {step: _read(conn, run_id, step, 0, limit) for step in steps}


def follow_log(
    conninfo: str,
    run_id: UUID | str,
    step: str,
    *,
    after_line: int = 0,
    stop: threading.Event | None = None,
    poll_seconds: float = 1.0,
    batch: int = 1000,
) -> Iterator[LogLine]:
    """Yield the log's lines after `after_line`, then new ones as they arrive, until `stop` is set.

    As with EventStore.subscribe, NOTIFY on shiplog_logs only shortens the
    wait: after a wake-up, or `poll_seconds` without one, the reader re-selects
    from its last line number, so a lost notification delays a line, never drops it.
    """
    cursor = after_line
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        while stop is None or not stop.is_set():
            page = _read(conn, run_id, step, cursor, batch)
            for line in page:
                yield line
                cursor = line.line_no
            if len(page) < batch and (stop is None or not stop.is_set()):
                for _ in conn.notifies(timeout=poll_seconds, stop_after=1):
                    pass


def log_digest(conninfo: Source, run_id: UUID | str, step: str, *, page: int = 10_000) -> LogDigest:
    """Recompute a step's LogDigest from the stored lines (compare with StepFinished)."""
    with _connection(conninfo) as conn:
        return stored_digest(conn, run_id, step, page=page)


@dataclass(frozen=True)
class LogExpiry:
    """A step log that was expired on purpose: when, by whom, how many lines it had."""

    step: str
    lines: int
    expired_at: datetime
    expired_by: str


def expired_logs(store: EventStore, run_id: UUID | str) -> dict[str, LogExpiry]:
    """The expired logs of a run's steps, by step."""
    with store.connection() as conn:
        rows = conn.execute(
            "SELECT step, lines, expired_at, expired_by FROM step_log_expiries "
            "WHERE run_id = %s::uuid",
            (run_uuid(run_id),),
        ).fetchall()
    return {
        step: LogExpiry(step, lines, expired_at.astimezone(UTC), expired_by)
        for step, lines, expired_at, expired_by in rows
    }
