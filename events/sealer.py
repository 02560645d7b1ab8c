"""The sealer: folds event leaf hashes into an RFC 6962 Merkle tree and signs checkpoints.

Each call to `seal` is one short transaction that appends the next events'
leaf hashes to ledger_leaves (leaf_index 0, 1, 2, ... without gaps) and records
a signed checkpoint of the tree that results: its size, its root and the
frontier the next batch resumes from. Both tables are append-only (triggers and
grants), so once an event is sealed, changing or deleting it is detectable by
anyone holding a checkpoint: `shiplog verify` recomputes it all.

WHY (tx_id, position) ORDER, BELOW xmin
---------------------------------------
The tree must only ever grow at its right edge: a leaf once placed at index i
stays there, or every earlier checkpoint would stop verifying. So the sealer
must never pass over an event that later turns up *before* something already
sealed. `position` alone cannot give that guarantee. Positions come from an
identity sequence at INSERT time, but rows become visible at COMMIT time: a
transaction may draw position 100, stay open, and commit after another has
committed position 101 and the sealer has folded it in. Position 100 would then
arrive behind the tree's edge and could never be sealed in position order.

The subscription order closes that hole. Every row carries the id of the
transaction that wrote it (tx_id, an xid8, assigned when the transaction first
writes). pg_snapshot_xmin(pg_current_snapshot()) is the oldest transaction id
still running: every transaction below it has ended, committed or aborted, so
the set of rows with tx_id < xmin can no longer change. Reading in
(tx_id, position) order and only below xmin, the sealer sees a prefix of a
sequence that only ever grows at its end, which is exactly what an append-only
tree needs. It is the same order and cutoff as EventStore.read_all, so the
leaves are the events in the order every subscriber sees them. The price is
that one long-running writing transaction holds sealing back until it ends.

WHY THE ADVISORY LOCK
---------------------
Any number of shiplog processes may call the sealer at once (CLI, API, workers
on several hosts). Two sealers reading the same latest checkpoint would both
compute leaf_index N for the same next event and sign two different trees of the
same size. ledger_leaves' PRIMARY KEY (leaf_index) and ledger_checkpoints'
PRIMARY KEY (tree_size) would make the second commit fail, but only after it
did its work, and a failed seal is noise. pg_advisory_xact_lock serialises
sealers across the whole cluster of processes instead: the second waits, then
(read committed: each statement takes a fresh snapshot) reads the checkpoint
the first just committed and carries on from there. The lock is released with
the transaction, so a crashed sealer never leaves it held.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from events.errors import SealError
from events.merkle import Frontier
from events.signing import (
    CheckpointBody,
    CheckpointSigner,
    CheckpointVerifier,
    format_note,
    note_key_hash,
    signed_note,
)

# pg_advisory_xact_lock key: "shiplog sealer" as a number, shared by every sealer.
SEALER_LOCK_KEY = 0x5348_4950_4C4F_47  # "SHIPLOG" in ASCII
DEFAULT_BATCH = 10_000

_CHECKPOINT_COLUMNS = "tree_size, root, origin, key_id, signature, signed_at"


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of the sealed tree at one size."""

    tree_size: int
    root: bytes
    origin: str
    key_id: str
    signature: bytes
    signed_at: datetime
    note: str

    @property
    def body(self) -> CheckpointBody:
        """The checkpoint body the signature covers."""
        return CheckpointBody(self.origin, self.tree_size, self.root)


def checkpoint_from_row(row: tuple[Any, ...], verifier: CheckpointVerifier) -> Checkpoint:
    """A Checkpoint from a row of _CHECKPOINT_COLUMNS, its note rebuilt for `verifier`'s key."""
    tree_size, root, origin, key_id, signature, signed_at = row
    body = CheckpointBody(origin, tree_size, bytes(root))
    key_hash = note_key_hash(origin, verifier.raw_public_key)
    return Checkpoint(
        tree_size=tree_size,
        root=bytes(root),
        origin=origin,
        key_id=key_id,
        signature=bytes(signature),
        signed_at=signed_at,
        note=format_note(body, origin, key_hash, bytes(signature)),
    )


def latest_checkpoint(
    conn: psycopg.Connection[Any], verifier: CheckpointVerifier
) -> Checkpoint | None:
    """The checkpoint with the largest tree size, or None before the first seal."""
    row = conn.execute(
        f"SELECT {_CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1"
    ).fetchone()
    return None if row is None else checkpoint_from_row(row, verifier)


def checkpoint_at(
    conn: psycopg.Connection[Any], tree_size: int, verifier: CheckpointVerifier
) -> Checkpoint | None:
    """The checkpoint of exactly `tree_size` leaves, if one was written."""
    row = conn.execute(
        f"SELECT {_CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size = %s",
        (tree_size,),
    ).fetchone()
    return None if row is None else checkpoint_from_row(row, verifier)


def _resume_point(conn: psycopg.Connection[Any]) -> tuple[Frontier, int, int]:
    """The frontier to extend and the (tx_id, position) cursor of the last sealed leaf."""
    row = conn.execute(
        "SELECT tree_size, root, frontier FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1"
    ).fetchone()
    if row is None:
        frontier = Frontier()
    else:
        tree_size, root, frontier_json = row
        try:
            frontier = Frontier.from_json(frontier_json)
        except ValueError as error:
            raise SealError(f"checkpoint at tree size {tree_size}: bad frontier: {error}") from None
        if frontier.size != tree_size or frontier.root() != bytes(root):
            raise SealError(
                f"checkpoint at tree size {tree_size}: its frontier does not match its root; "
                "run `shiplog verify`"
            )
    last = conn.execute(
        "SELECT leaf_index, tx_id, position FROM ledger_leaves ORDER BY leaf_index DESC LIMIT 1"
    ).fetchone()
    leaves = 0 if last is None else last[0] + 1
    if leaves != frontier.size:
        raise SealError(
            f"the latest checkpoint covers {frontier.size} leaves but {leaves} are stored; "
            "run `shiplog verify`"
        )
    if last is None:
        return frontier, 0, 0
    return frontier, last[1], last[2]


def seal(
    conninfo: str, signer: CheckpointSigner, *, batch: int = DEFAULT_BATCH
) -> Checkpoint | None:
    """Seal up to `batch` new events in one transaction; the new checkpoint, or None if none."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    with _connect(conninfo) as conn:
        return _seal_batch(conn, signer, batch)


def seal_all(
    conninfo: str, signer: CheckpointSigner, *, batch: int = DEFAULT_BATCH
) -> Checkpoint | None:
    """Seal batch after batch until caught up; the last checkpoint written, or None if none."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    last: Checkpoint | None = None
    with _connect(conninfo) as conn:
        while (checkpoint := _seal_batch(conn, signer, batch)) is not None:
            last = checkpoint
    return last


def _connect(conninfo: str) -> psycopg.Connection[Any]:
    """A connection whose transactions are read committed, as the sealer's locking needs."""
    conn = psycopg.connect(conninfo)
    conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
    return conn


def _seal_batch(
    conn: psycopg.Connection[Any], signer: CheckpointSigner, batch: int
) -> Checkpoint | None:
    """One sealing transaction on `conn`: lock, resume, read, append leaves, sign."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SEALER_LOCK_KEY,))
        frontier, after_tx, after_position = _resume_point(conn)
        rows = conn.execute(
            "SELECT position, tx_id, hash FROM events "
            "WHERE (tx_id, position) > (%s::text::xid8, %s) "
            "AND tx_id < pg_snapshot_xmin(pg_current_snapshot()) "
            "ORDER BY tx_id, position LIMIT %s",
            (str(after_tx), after_position, batch),
        ).fetchall()
        if not rows:
            return None
        first = frontier.size
        with conn.cursor().copy(
            "COPY ledger_leaves (leaf_index, position, tx_id, leaf_hash) FROM STDIN"
        ) as copy:
            for offset, (position, tx_id, leaf) in enumerate(rows):
                frontier.append(leaf)
                copy.write_row((first + offset, position, tx_id, leaf))
        root = frontier.root()
        signature = signer.sign(frontier.size, root)
        signed_at = conn.execute(
            "INSERT INTO ledger_checkpoints "
            "(tree_size, root, frontier, origin, key_id, signature) "
            "VALUES (%s, %s, %s::jsonb, %s, %s, %s) RETURNING signed_at",
            (
                frontier.size,
                root,
                json.dumps(frontier.to_json()),
                signer.name,
                signer.key_id,
                signature,
            ),
        ).fetchone()
        assert signed_at is not None
    body = CheckpointBody(signer.name, frontier.size, root)
    return Checkpoint(
        tree_size=frontier.size,
        root=root,
        origin=signer.name,
        key_id=signer.key_id,
        signature=signature,
        signed_at=signed_at[0],
        note=signed_note(signer, body, signature),
    )
