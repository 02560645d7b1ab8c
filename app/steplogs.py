"""The step_logs table's contract, shared by its writer (the executor) and its readers (queries).

Neither side may import the other (the read side imports no executor, the executor no
read side), so what both must agree on lives here: the digest of a stored log, the
NOTIFY channel the table's trigger wakes readers on (migrations/0008_step_logs.sql),
and where a log is stored.

The log digest: `LogDigest.sha256` is the hex sha256 of the UTF-8 bytes of every
stored line, each followed by one "\\n", in line_no order; `LogDigest.lines` is the
number of lines (line_no runs from 1 to lines). An empty log has the sha256 of no
bytes and 0 lines. The digest is over the lines as stored, so a reader can recompute
it from the table alone.
"""

from __future__ import annotations

import hashlib
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final, Protocol
from uuid import UUID

import psycopg
from psycopg_pool import ConnectionPool

NOTIFY_CHANNEL: Final = "shiplog_logs"
"""Notified (with no payload) by the table's trigger when lines are inserted."""


class Connections(Protocol):
    """Anything that lends pooled connections: a psycopg pool, or the event store."""

    def connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        """A connection, returned to its lender when the block ends."""
        ...


Source = str | ConnectionPool[Any] | Connections
"""Where logs are: a conninfo string (one connection of its own) or a lender of connections."""


@dataclass(frozen=True)
class LogDigest:
    """The sha256 (hex) and line count of a stored log, as defined in the module docstring."""

    sha256: str
    lines: int


def digest_bytes(line: str) -> bytes:
    """What one stored line adds to its log's sha256."""
    return line.encode("utf-8") + b"\n"


def run_uuid(run_id: UUID | str) -> UUID:
    """A run id as the table's uuid column takes it."""
    return run_id if isinstance(run_id, UUID) else UUID(run_id)


def stored_digest(
    conn: psycopg.Connection[Any], run_id: UUID | str, step: str, *, page: int = 10_000
) -> LogDigest:
    """The LogDigest of a step's log as stored now, recomputed from the table.

    `shiplog logs --verify` compares it with StepFinished; a reaper seals with it the
    log of a step whose runner was lost.
    """
    sha, lines, after = hashlib.sha256(), 0, 0
    while True:
        rows = conn.execute(
            "SELECT line_no, line FROM step_logs WHERE run_id = %s::uuid AND step = %s::text "
            "AND line_no > %s ORDER BY line_no LIMIT %s",
            (run_uuid(run_id), step, after, page),
        ).fetchall()
        for _, line in rows:
            sha.update(digest_bytes(line))
        lines += len(rows)
        if len(rows) < page:
            return LogDigest(sha.hexdigest(), lines)
        after = rows[-1][0]
