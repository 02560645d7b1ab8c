"""Step logs written: masked lines stored live in batches, and expired by the owner.

Logs are not events: a step's output goes to the `step_logs` table
(migrations/0008_step_logs.sql), which the owner may expire, and StepFinished
records the log's digest (defined in app/steplogs.py), so a log can be verified for
as long as it is kept. Reading logs back is the read side's (app/queries/logs.py).

What `StepLogWriter.write(text)` stores: `text` is split at "\\n" (a trailing
newline ends the last line, it does not start an empty one) and one "\\r" at the
end of each line is dropped. In each line every secret is masked, NUL characters
(which PostgreSQL text cannot hold) and unencodable surrogates are replaced, and a
line whose UTF-8 encoding is longer than MAX_LINE_BYTES is cut at a character
boundary within that limit and ends with CUT_MARKER instead.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import psycopg

from app.executor.actions.masking import Masker
from app.steplogs import LogDigest, Source, digest_bytes, run_uuid
from events.retry import DEFAULT_RETRY_SECONDS, retrying

MAX_LINE_BYTES: Final = 64 * 1024
CUT_MARKER: Final = " [shiplog: line cut at 64 KiB, it had {size} bytes]"
BATCH_LINES: Final = 100
FLUSH_SECONDS: Final = 0.2

# A batch sent again after a lost connection may have committed the first time:
# its lines are then already there, under the same numbers, and stay as they are.
_INSERT = """
INSERT INTO step_logs (run_id, step, line_no, line)
SELECT %s::uuid, %s::text, b.line_no, b.line
FROM unnest(%s::integer[], %s::text[]) AS b(line_no, line)
ON CONFLICT (run_id, step, line_no) DO NOTHING
"""


def prepare_lines(text: str | bytes, masker: Masker) -> list[str]:
    """The lines `StepLogWriter.write(text)` would store (see the module docstring)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [
        _prepare(part.removesuffix("\r"), masker) for part in text.removesuffix("\n").split("\n")
    ]


def _prepare(line: str, masker: Masker) -> str:
    line = masker.mask(line).replace("\x00", "\ufffd")
    data = line.encode("utf-8", "replace")  # lone surrogates become "?"
    if len(data) > MAX_LINE_BYTES:
        return data[:MAX_LINE_BYTES].decode("utf-8", "ignore") + CUT_MARKER.format(size=len(data))
    return data.decode("utf-8")


class StepLogWriter:
    """Stores one step's log as it is produced, in batches that live readers see at once.

    Lines are buffered and inserted every BATCH_LINES lines (by the writing
    thread, which thus waits when the database is slow) or every FLUSH_SECONDS
    (by a background thread), and on close. Batches commit in line order, so a
    reader following `line_no` never skips a line. Safe to call from several
    threads. One writer per (run_id, step): line numbers start at 1.
    """

    def __init__(
        self,
        conninfo_or_pool: Source,
        run_id: UUID | str,
        step: str,
        masker: Masker | None = None,
        *,
        batch_lines: int = BATCH_LINES,
        flush_seconds: float = FLUSH_SECONDS,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
    ) -> None:
        self.run_id = run_uuid(run_id)
        self.step = step
        self.batch_lines = batch_lines
        self.retry_seconds = retry_seconds
        self._masker = masker if masker is not None else Masker(())
        self._source = conninfo_or_pool
        self._conn: psycopg.Connection[Any] | None = None  # when given a conninfo
        if isinstance(conninfo_or_pool, str):
            self._conn = psycopg.connect(conninfo_or_pool, autocommit=True)
        self._lock = threading.Lock()  # guards the buffer, the line count and the hash
        self._flush_lock = threading.Lock()  # one batch in flight at a time, in line order
        self._buffer: list[tuple[int, str]] = []
        self._lines = 0
        self._sha = hashlib.sha256()
        self._closed = False
        self._digest: LogDigest | None = None
        self.flush_error: Exception | None = None
        """The last failure of a background flush (its lines are retried), or None."""
        self._stop = threading.Event()
        self._flusher = threading.Thread(
            target=self._flush_periodically, args=(flush_seconds,), name="shiplog-log-flusher"
        )
        self._flusher.daemon = True
        self._flusher.start()

    def __repr__(self) -> str:
        return f"<StepLogWriter run {self.run_id} step {self.step!r}, {self._lines} lines>"

    def __enter__(self) -> StepLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, text: str | bytes) -> None:
        """Add one or more lines (split at "\\n"); bytes are decoded as UTF-8."""
        lines = prepare_lines(text, self._masker)
        with self._lock:
            if self._closed:
                raise ValueError(f"log of step {self.step!r} is closed")
            for line in lines:
                self._lines += 1
                self._buffer.append((self._lines, line))
                self._sha.update(digest_bytes(line))
            full = len(self._buffer) >= self.batch_lines
        if full:
            self.flush()

    def flush(self) -> None:
        """Insert the buffered lines now; on failure they stay buffered and the error is raised."""
        with self._flush_lock:
            with self._lock:
                batch, self._buffer = self._buffer, []
            if not batch:
                return
            try:
                self._insert(batch)
            except BaseException:
                with self._lock:
                    self._buffer[:0] = batch
                raise

    def close(self) -> LogDigest:
        """Flush, stop the background thread and return the digest of the stored log."""
        with self._lock:
            if self._digest is not None:
                return self._digest
            self._closed = True
        self._stop.set()
        self._flusher.join()
        # Lines that could not be stored yet (the database restarting) are retried for up
        # to retry_seconds; after that close() raises, and may be called again.
        retrying(self.flush, self.retry_seconds, what=f"log of step {self.step}")
        if self._conn is not None:
            self._conn.close()
        self._digest = LogDigest(self._sha.hexdigest(), self._lines)
        return self._digest

    def _insert(self, batch: list[tuple[int, str]]) -> None:
        params = (self.run_id, self.step, [n for n, _ in batch], [line for _, line in batch])
        if not isinstance(self._source, str):
            with self._source.connection() as conn, conn.transaction():
                conn.execute(_INSERT, params)
            return
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._source, autocommit=True)
        self._conn.execute(_INSERT, params)

    def _flush_periodically(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self.flush()
            except Exception as exc:  # kept for the caller; close() flushes and raises
                self.flush_error = exc
            else:
                self.flush_error = None


@dataclass(frozen=True)
class Expired:
    """What an expiry removed: whole logs, and their lines."""

    logs: int
    lines: int


def expire_logs(owner_conninfo: str, *, older_than: datetime, actor: str) -> Expired:
    """As the owner, delete every step log whose last line is older than `older_than`.

    Whole logs go, never a part of one, so a log is either verifiable against
    its StepFinished digest or gone; step_log_expiries records each one (when, by
    whom, how many lines) in the same transaction. Nothing in the ledger changes.
    """
    with psycopg.connect(owner_conninfo) as conn, conn.transaction():
        logs = conn.execute(
            "INSERT INTO step_log_expiries (run_id, step, lines, expired_by) "
            "SELECT run_id, step, count(*), %s FROM step_logs GROUP BY run_id, step "
            "HAVING max(logged_at) < %s "
            "ON CONFLICT (run_id, step) DO NOTHING RETURNING run_id, step",
            (actor, older_than),
        ).fetchall()
        if not logs:
            return Expired(0, 0)
        deleted = conn.execute(
            "DELETE FROM step_logs WHERE (run_id, step) IN "
            "(SELECT run_id, step FROM unnest(%s::uuid[], %s::text[]) AS g(run_id, step))",
            ([run for run, _ in logs], [step for _, step in logs]),
        )
        return Expired(len(logs), deleted.rowcount)
