"""Inclusion and consistency proofs that anyone can check offline with the ledger's public key.

An inclusion proof is one JSON document holding an event's canonical form (the
object whose RFC 8785 bytes are hashed, readable as is), its leaf index, the
audit path to the root of the latest checkpoint, that checkpoint's signed note
and, for convenience, the public key. `check_inclusion` needs nothing else:
it hashes the event, walks the path to the root, checks the note's signature
with a public key the *checker* supplies (the copy inside the document is only
a hint) and that the note states the same tree size and root.

A consistency proof shows that the tree of a later checkpoint extends the tree
of an earlier one: nothing sealed before was changed or dropped.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from events.canonical import canonical_json
from events.errors import InvalidNote, LedgerMismatch, NoCheckpoint, NotSealed, UnknownEvent
from events.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from events.sealer import Checkpoint, checkpoint_at, latest_checkpoint
from events.signing import CheckpointBody, CheckpointVerifier, open_note
from events.store import EVENT_COLUMNS
from events.verify import document_of

INCLUSION_FORMAT = "shiplog-inclusion-proof/v1"
CONSISTENCY_FORMAT = "shiplog-consistency-proof/v1"


class _Malformed(Exception):
    """A proof document field is missing or of the wrong kind."""


def _read_only(conninfo: str) -> psycopg.Connection[Any]:
    """A connection whose transactions see one consistent snapshot and write nothing."""
    conn = psycopg.connect(conninfo)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def _leaf_hashes(conn: psycopg.Connection[Any], tree_size: int) -> list[bytes]:
    """The first `tree_size` leaf hashes, streamed from a server-side cursor."""
    hashes: list[bytes] = []
    with conn.cursor(name="shiplog_leaves") as cursor:
        cursor.itersize = 50_000
        cursor.execute(
            "SELECT leaf_hash FROM ledger_leaves WHERE leaf_index < %s ORDER BY leaf_index",
            (tree_size,),
        )
        hashes.extend(bytes(row[0]) for row in cursor)
    if len(hashes) != tree_size:
        raise LedgerMismatch(
            f"the checkpoint at tree size {tree_size} covers more leaves than the "
            f"{len(hashes)} stored; run `shiplog verify`"
        )
    return hashes


def _checked_leaves(conn: psycopg.Connection[Any], checkpoint: Checkpoint) -> list[bytes]:
    """The leaves of a checkpoint, after making sure they give its signed root."""
    hashes = _leaf_hashes(conn, checkpoint.tree_size)
    if root(hashes) != checkpoint.root:
        raise LedgerMismatch(
            f"the stored leaves do not give the root of the checkpoint at tree size "
            f"{checkpoint.tree_size}; run `shiplog verify`"
        )
    return hashes


def _signed_by(checkpoint: Checkpoint, verifier: CheckpointVerifier) -> Checkpoint:
    """`checkpoint`, after making sure `verifier`'s key signed it (else no proof would check)."""
    if checkpoint.key_id != verifier.key_id or not verifier.verify_signature(
        checkpoint.body, checkpoint.signature
    ):
        raise LedgerMismatch(
            f"the checkpoint at tree size {checkpoint.tree_size} is not signed by this ledger's "
            f"key {verifier.key_id[:16]}; run `shiplog verify`"
        )
    return checkpoint


def _signed(checkpoint: Checkpoint) -> dict[str, Any]:
    """A checkpoint as a proof states it: size, hex root and the signed note."""
    return {
        "tree_size": checkpoint.tree_size,
        "root": checkpoint.root.hex(),
        "checkpoint": checkpoint.note,
    }


def prove_inclusion(
    conninfo: str, event_id: UUID | str, *, verifier: CheckpointVerifier
) -> dict[str, Any]:
    """A self-contained proof that the event is in the latest checkpoint's tree."""
    try:
        wanted = UUID(str(event_id))
    except ValueError:
        raise UnknownEvent(f"{event_id!s} (not an event id: expected a UUID)") from None
    with _read_only(conninfo) as conn, conn.transaction():
        row = conn.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE event_id = %s", (wanted,)
        ).fetchone()
        if row is None:
            raise UnknownEvent(str(wanted))
        sealed = conn.execute(
            "SELECT leaf_index, leaf_hash FROM ledger_leaves WHERE position = %s", (row[0],)
        ).fetchone()
        checkpoint = latest_checkpoint(conn, verifier)
        if sealed is None or checkpoint is None or checkpoint.tree_size <= sealed[0]:
            raise NotSealed(str(wanted))
        _signed_by(checkpoint, verifier)
        index, leaf = sealed[0], bytes(sealed[1])
        document = document_of(row)
        if leaf_hash(canonical_json(document)) != leaf:
            raise LedgerMismatch(
                f"event {wanted} (position {row[0]}) no longer matches its sealed leaf "
                f"{index}; run `shiplog verify`"
            )
        path = inclusion_proof(index, _checked_leaves(conn, checkpoint))
    return {
        "format": INCLUSION_FORMAT,
        "event": document,
        "position": row[0],
        "leaf_index": index,
        "leaf_hash": leaf.hex(),
        **_signed(checkpoint),
        "audit_path": [node.hex() for node in path],
        "public_key": verifier.public_pem(),
    }


def prove_consistency(
    conninfo: str,
    old_size: int | None = None,
    new_size: int | None = None,
    *,
    verifier: CheckpointVerifier,
) -> dict[str, Any]:
    """Proof that the checkpoint at `new_size` extends the one at `old_size` (default: latest 2)."""
    with _read_only(conninfo) as conn, conn.transaction():
        new = _checkpoint(conn, new_size, verifier, "new")
        if old_size is None:
            row = conn.execute(
                "SELECT tree_size FROM ledger_checkpoints WHERE tree_size < %s "
                "ORDER BY tree_size DESC LIMIT 1",
                (new.tree_size,),
            ).fetchone()
            if row is None:
                raise NoCheckpoint(
                    f"no checkpoint before tree size {new.tree_size}: a consistency proof needs "
                    "two (seal more events with `shiplog ledger checkpoint`)"
                )
            old_size = int(row[0])
        old = _checkpoint(conn, old_size, verifier, "old")
        if old.tree_size > new.tree_size:
            raise NoCheckpoint(
                f"the old tree size {old.tree_size} is larger than the new {new.tree_size}"
            )
        hashes = _checked_leaves(conn, new)
        if root(hashes[: old.tree_size]) != old.root:
            raise LedgerMismatch(
                f"the stored leaves do not give the root of the checkpoint at tree size "
                f"{old.tree_size}; run `shiplog verify`"
            )
        proof = consistency_proof(old.tree_size, hashes)
    return {
        "format": CONSISTENCY_FORMAT,
        "old": _signed(old),
        "new": _signed(new),
        "proof": [node.hex() for node in proof],
        "public_key": verifier.public_pem(),
    }


def _checkpoint(
    conn: psycopg.Connection[Any], size: int | None, verifier: CheckpointVerifier, which: str
) -> Checkpoint:
    """The checkpoint at `size` (the latest when None), or NoCheckpoint naming the size."""
    found = (
        latest_checkpoint(conn, verifier) if size is None else checkpoint_at(conn, size, verifier)
    )
    if found is None:
        if size is None:
            raise NoCheckpoint("the ledger has no checkpoint yet: run `shiplog ledger checkpoint`")
        raise NoCheckpoint(f"no checkpoint has tree size {size} (the {which} size of the proof)")
    return _signed_by(found, verifier)


# --- offline checks -------------------------------------------------------------------


_KINDS = {int: "an integer", str: "a string", list: "a list", dict: "an object"}


def _field(document: Any, name: str, kind: type) -> Any:
    """`document[name]` if it is of `kind`, else _Malformed naming the field."""
    if not isinstance(document, dict) or name not in document:
        raise _Malformed(f"missing field {name!r}")
    value = document[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Malformed(f"field {name!r} must be {_KINDS[kind]}")
    return value


def _hash_field(document: Any, name: str) -> bytes:
    """A 32-byte hash from a hex string field."""
    text = _field(document, name, str)
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise _Malformed(f"field {name!r} must be a 64-digit hex SHA-256 hash")
    return value


def _hash_list(document: Any, name: str) -> list[bytes]:
    """A list of 32-byte hashes from a list of hex strings."""
    items = _field(document, name, list)
    return [_hash_field({name: item}, name) for item in items]


def _opened(signed: Any, public_key_pem: str, label: str) -> tuple[int, bytes, CheckpointBody]:
    """Size and root a proof claims, and the body of its signed note (signature checked)."""
    size, claimed = _field(signed, "tree_size", int), _hash_field(signed, "root")
    body = open_note(_field(signed, "checkpoint", str), public_key_pem)
    if (body.tree_size, body.root) != (size, claimed):
        raise InvalidNote(
            f"the signed {label}checkpoint states tree size {body.tree_size} and root "
            f"{body.root.hex()[:16]}…, not the proof's {size} and {claimed.hex()[:16]}…"
        )
    return size, claimed, body


def check_inclusion(document: Any, public_key_pem: str) -> tuple[bool, str]:
    """Check an inclusion proof offline with the ledger's public key: (ok, reason)."""
    try:
        if _field(document, "format", str) != INCLUSION_FORMAT:
            raise _Malformed(f"not an inclusion proof ({document['format']!r})")
        event = _field(document, "event", dict)
        index = _field(document, "leaf_index", int)
        path = _hash_list(document, "audit_path")
        size, claimed_root, body = _opened(document, public_key_pem, "")
    except _Malformed as error:
        return False, f"malformed proof: {error}"
    except InvalidNote as error:
        return False, f"checkpoint: {error}"
    try:
        leaf = leaf_hash(canonical_json(event))
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
        return False, f"the event cannot be put in canonical form: {error}"
    if "leaf_hash" in document and document["leaf_hash"] != leaf.hex():
        return False, "the event does not hash to the proof's leaf hash (the event was altered)"
    if not verify_inclusion(index, size, leaf, path, claimed_root):
        return False, (
            f"the audit path does not lead from the event to the root of tree size {size} "
            "(the event or the path was altered)"
        )
    who = event.get("event_id", "the event")
    return True, (
        f"event {who} is leaf {index} of the {body.origin} ledger at tree size {size} "
        f"(root {claimed_root.hex()}), signed with the given key"
    )


def check_consistency(document: Any, public_key_pem: str) -> tuple[bool, str]:
    """Check a consistency proof offline with the ledger's public key: (ok, reason)."""
    try:
        if _field(document, "format", str) != CONSISTENCY_FORMAT:
            raise _Malformed(f"not a consistency proof ({document['format']!r})")
        old_size, old_root, old_body = _opened(
            _field(document, "old", dict), public_key_pem, "old "
        )
        new_size, new_root, new_body = _opened(
            _field(document, "new", dict), public_key_pem, "new "
        )
        proof = _hash_list(document, "proof")
    except _Malformed as error:
        return False, f"malformed proof: {error}"
    except InvalidNote as error:
        return False, f"checkpoint: {error}"
    if old_body.origin != new_body.origin:
        return False, "the two checkpoints are of different ledgers"
    if not verify_consistency(old_size, new_size, old_root, new_root, proof):
        return False, (
            f"the tree at size {new_size} does not extend the tree at size {old_size} "
            "(the proof or a checkpoint was altered)"
        )
    return True, (
        f"the {new_body.origin} ledger at tree size {new_size} extends its tree at size "
        f"{old_size}, both checkpoints signed with the given key"
    )


def check_proof(document: Any, public_key_pem: str) -> tuple[bool, str]:
    """Check either kind of proof document offline, by its `format` field."""
    kind = document.get("format") if isinstance(document, dict) else None
    if kind == INCLUSION_FORMAT:
        return check_inclusion(document, public_key_pem)
    if kind == CONSISTENCY_FORMAT:
        return check_consistency(document, public_key_pem)
    return False, f"malformed proof: unknown format {kind!r}"
