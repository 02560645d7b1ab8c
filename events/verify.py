"""`shiplog verify`: recompute every event hash, every sealed leaf and every signed checkpoint.

The check walks two sequences side by side, in one read-only snapshot:

* the events, in subscription order (tx_id, position), each rebuilt into its
  canonical bytes (events.canonical) from the stored columns and hashed;
* the sealed leaves, in leaf_index order, folded into a Merkle frontier whose
  root is compared with every signed checkpoint along the way.

Leaf i must be the i-th event in subscription order: same position, same
tx_id, same hash. Whatever does not line up is reported, the first mismatch in
ledger order first: an edited payload (hash no longer matches), an event
rewritten together with its hash (differs from its leaf), a sealed event that
is gone (a leaf without its event), an unsealed event that is gone (a gap in
its stream's versions), leaves rewritten together with their events (a
recomputed root differs from a signed one), a forged checkpoint (signature).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg

from events.canonical import canonical_json, event_document
from events.merkle import EMPTY_ROOT, Frontier, leaf_hash
from events.signing import CheckpointBody, CheckpointVerifier
from events.store import EVENT_COLUMNS

DEFAULT_BATCH = 10_000
MAX_FAILURES = 100
_MAX_SAFE_INT = 2**53 - 1
_LAST = (1 << 64, 0)  # sorts after every real (tx_id, position)


@dataclass(frozen=True)
class Failure:
    """One thing that does not match, and where in ledger order it is."""

    message: str
    position: int | None = None
    order: tuple[int, int] = _LAST

    def __str__(self) -> str:
        """The failure's message, which names the position or checkpoint."""
        return self.message


@dataclass
class Report:
    """What `verify_ledger` checked and the mismatches it found, the first one first."""

    failures: list[Failure] = field(default_factory=list)
    events: int = 0
    leaves: int = 0
    checkpoints: int = 0
    unsealed: int = 0
    more_failures: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failures

    @property
    def first(self) -> Failure | None:
        """The first mismatch in ledger order, or None."""
        return min(self.failures, key=lambda f: f.order, default=None)

    def summary(self) -> str:
        """One line: what was checked and the verdict."""
        counts = (
            f"{self.events} events, {self.leaves} sealed leaves, {self.checkpoints} checkpoints, "
            f"{self.unsealed} events not yet sealed"
        )
        if self.ok:
            return f"ledger verified: {counts}"
        total = len(self.failures) + self.more_failures
        return f"ledger does NOT verify ({total} mismatches): {counts}"

    def add(self, failure: Failure) -> None:
        """Record a failure, keeping the MAX_FAILURES first ones in ledger order."""
        self.failures.append(failure)
        if len(self.failures) >= 2 * MAX_FAILURES:
            self.settle()

    def settle(self) -> None:
        """Sort the failures into ledger order and keep the first MAX_FAILURES."""
        self.failures.sort(key=lambda f: f.order)
        self.more_failures += len(self.failures[MAX_FAILURES:])
        del self.failures[MAX_FAILURES:]


def _json_int(text: str) -> int | float:
    """JSON integers beyond ±2**53 can only have been floats (append rejects such ints)."""
    value = int(text)
    return float(text) if abs(value) > _MAX_SAFE_INT else value


def load_json(text: str) -> Any:
    """Decode jsonb text back into the values the event was hashed with."""
    return json.loads(text, parse_int=_json_int)


def document_of(row: tuple[Any, ...]) -> dict[str, Any]:
    """The canonical document of an event row read with EVENT_COLUMNS."""
    _pos, _tx, stream, version, event_id, type_name, schema_version, data, meta, at, _h = row
    return event_document(
        stream=stream,
        version=version,
        event_id=event_id,
        type_name=type_name,
        schema_version=schema_version,
        data=load_json(data),
        metadata=load_json(meta),
        recorded_at=at,
    )


def recompute_hash(row: tuple[Any, ...]) -> bytes | str:
    """The leaf hash of an event row's canonical bytes, or why none can be computed."""
    try:
        return leaf_hash(canonical_json(document_of(row)))
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
        return f"stored columns cannot be put in canonical form ({error})"


def _pages(
    conn: psycopg.Connection[Any],
    query: str,
    start: tuple[Any, ...],
    key: Callable[[tuple[Any, ...]], tuple[Any, ...]],
    batch: int,
) -> Iterator[tuple[Any, ...]]:
    """Rows of a keyset-paginated `query` (taking the last key and a limit), page by page."""
    last = start
    while True:
        rows = conn.execute(query, (*last, batch)).fetchall()
        yield from rows
        if len(rows) < batch:
            return
        last = key(rows[-1])


_EVENTS_PAGE = (
    f"SELECT {EVENT_COLUMNS} FROM events WHERE (tx_id, position) > (%s::text::xid8, %s) "
    "ORDER BY tx_id, position LIMIT %s"
)
_LEAVES_PAGE = (
    "SELECT leaf_index, position, tx_id, leaf_hash FROM ledger_leaves "
    "WHERE leaf_index > %s ORDER BY leaf_index LIMIT %s"
)
_CHECKPOINTS_PAGE = (
    "SELECT tree_size, root, origin, key_id, signature, frontier FROM ledger_checkpoints "
    "WHERE tree_size > %s ORDER BY tree_size LIMIT %s"
)
_VERSION_GAPS = """
SELECT stream, version, prev, position, tx_id FROM (
    SELECT stream, version, position, tx_id,
           lag(version) OVER (PARTITION BY stream ORDER BY version) AS prev
    FROM events
) s
WHERE version <> coalesce(prev, -1) + 1
ORDER BY tx_id, position
LIMIT %s
"""


class _Walk:
    """The side-by-side walk over events, leaves and checkpoints."""

    def __init__(
        self, conn: psycopg.Connection[Any], verifier: CheckpointVerifier | None, batch: int
    ) -> None:
        """Prepare to walk the ledger on `conn` (inside one repeatable-read transaction)."""
        self.conn = conn
        self.verifier = verifier
        self.report = Report()
        self.events = _pages(conn, _EVENTS_PAGE, ("0", -1), lambda r: (r[1], r[0]), batch)
        self.leaves = _pages(conn, _LEAVES_PAGE, (-1,), lambda r: (r[0],), batch)
        self.checkpoints = _pages(conn, _CHECKPOINTS_PAGE, (-1,), lambda r: (r[0],), batch)
        self.frontier = Frontier()
        # position and cursor of the first leaf after the last checkpoint
        self.span_start: tuple[int, tuple[int, int]] | None = None

    def run(self) -> Report:
        """Walk leaves and events side by side, checking checkpoints as the tree reaches them."""
        event = next(self.events, None)
        checkpoint = next(self.checkpoints, None)
        checkpoint = self._checkpoints_up_to(checkpoint, 0, (0, 0))
        for index, position, tx_text, sealed in self.leaves:
            sealed = bytes(sealed)
            cursor = (int(tx_text), position)
            if index != self.frontier.size:
                self._fail(
                    f"position {position}: sealed as leaf {index}, but leaf "
                    f"{self.frontier.size} is missing from the sealed tree",
                    position,
                    cursor,
                )
            while event is not None and (int(event[1]), event[0]) < cursor:
                self._check_event(event)
                self._fail(
                    f"position {event[0]}: event is not sealed although later events are "
                    "(inserted behind the sealer's back)",
                    event[0],
                    (int(event[1]), event[0]),
                )
                event = next(self.events, None)
            if event is None or (int(event[1]), event[0]) != cursor:
                self._missing(index, position, tx_text, cursor)
            else:
                if self._check_event(event) and bytes(event[10]) != sealed:
                    self._fail(
                        f"position {position}: event differs from sealed leaf {index} "
                        "(the event was rewritten together with its stored hash)",
                        position,
                        cursor,
                    )
                event = next(self.events, None)
            self.span_start = self.span_start or (position, cursor)
            self.frontier.append(sealed)
            self.report.leaves += 1
            checkpoint = self._checkpoints_up_to(checkpoint, self.frontier.size, cursor)
        while checkpoint is not None:
            self.report.checkpoints += 1
            self._fail(
                f"checkpoint at tree size {checkpoint[0]}: only {self.frontier.size} leaves are "
                "stored (sealed leaves were deleted)",
                None,
                _LAST,
            )
            checkpoint = next(self.checkpoints, None)
        while event is not None:
            self._check_event(event)
            self.report.unsealed += 1
            event = next(self.events, None)
        return self.report

    def _check_event(self, row: tuple[Any, ...]) -> bool:
        """Recompute one event's hash; False (and a failure) when it does not match."""
        self.report.events += 1
        recomputed = recompute_hash(row)
        position, cursor = row[0], (int(row[1]), row[0])
        if isinstance(recomputed, str):
            self._fail(f"position {position}: {recomputed}", position, cursor)
            return False
        if recomputed != bytes(row[10]):
            self._fail(
                f"position {position}: stored hash does not match the event's canonical bytes "
                "(data or metadata was changed)",
                position,
                cursor,
            )
            return False
        return True

    def _missing(self, index: int, position: int, tx_text: str, cursor: tuple[int, int]) -> None:
        """Record a sealed leaf whose event is not where it was sealed: deleted or moved."""
        if self.report.more_failures:  # past the first failures: spare the lookups
            why = f"sealed as leaf {index} but the event is not in its sealed place"
            self._fail(f"position {position}: {why}", position, cursor)
            return
        row = self.conn.execute(
            "SELECT tx_id FROM events WHERE position = %s", (position,)
        ).fetchone()
        if row is None:
            why = f"sealed as leaf {index} but the event is missing (deleted)"
        else:
            why = f"sealed as leaf {index} with tx_id {tx_text} but the event has tx_id {row[0]}"
        self._fail(f"position {position}: {why}", position, cursor)

    def _checkpoints_up_to(
        self, checkpoint: tuple[Any, ...] | None, size: int, cursor: tuple[int, int]
    ) -> tuple[Any, ...] | None:
        """Check every checkpoint whose tree size is `size` (the frontier's); return the next."""
        while checkpoint is not None and checkpoint[0] <= size:
            self.report.checkpoints += 1
            self._check_checkpoint(checkpoint, cursor)
            checkpoint = next(self.checkpoints, None)
        return checkpoint

    def _check_checkpoint(self, row: tuple[Any, ...], cursor: tuple[int, int]) -> None:
        """Check one checkpoint's origin, key, signature, root and frontier against the walk."""
        tree_size, root, origin, key_id, signature, frontier_json = row
        root = bytes(root)
        where = f"checkpoint at tree size {tree_size}"
        if self.verifier is None:
            self._fail(f"{where}: no public key given to check its signature", None, cursor)
        elif origin != self.verifier.name:
            self._fail(f"{where}: origin {origin!r} is not {self.verifier.name!r}", None, cursor)
        elif key_id != self.verifier.key_id:
            self._fail(
                f"{where}: signed by key {key_id[:16]}, not by {self.verifier.key_id[:16]}",
                None,
                cursor,
            )
        elif not self.verifier.verify_signature(
            CheckpointBody(origin, tree_size, root), bytes(signature)
        ):
            self._fail(f"{where}: signature does not verify (forged checkpoint)", None, cursor)
        expected = self.frontier.root() if tree_size else EMPTY_ROOT
        if root != expected:
            first, order = self.span_start or (0, cursor)
            self._fail(
                f"position {first}: the leaves from here to tree size {tree_size} do not give "
                f"the root signed in the {where} (sealed events and their leaves were rewritten, "
                "or the checkpoint was forged)",
                first,
                order,
            )
        elif frontier_json != self.frontier.to_json():
            self._fail(f"{where}: stored frontier does not match the leaves", None, cursor)
        self.span_start = None

    def _fail(self, message: str, position: int | None, order: tuple[int, int]) -> None:
        """Record a mismatch."""
        self.report.add(Failure(message, position, order))


def _version_gaps(conn: psycopg.Connection[Any], report: Report) -> None:
    """Record every place a stream's versions are not 0, 1, 2, ... (a deleted event)."""
    for stream, version, prev, position, tx_text in conn.execute(
        _VERSION_GAPS, (MAX_FAILURES,)
    ).fetchall():
        if prev is None:
            gap = f"stream {stream} starts at version {version}, not 0"
        else:
            gap = f"stream {stream} goes from version {prev} to {version}"
        report.add(
            Failure(
                f"position {position}: {gap}: an event is missing (deleted)",
                position,
                (int(tx_text), position),
            )
        )


def verify_ledger(
    conninfo: str, verifier: CheckpointVerifier | None, *, batch: int = DEFAULT_BATCH
) -> Report:
    """Recompute every event hash, leaf, root and checkpoint signature; report mismatches.

    Without a verifier (no key known yet) any checkpoint found is a failure.
    """
    with psycopg.connect(conninfo) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            report = _Walk(conn, verifier, batch).run()
            _version_gaps(conn, report)
    report.settle()
    return report
