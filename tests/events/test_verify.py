"""`verify_ledger` passes on an untouched ledger and names the first position that was changed."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from app.database import Database
from events.catalogue import Metadata
from events.sealer import seal_all
from events.signing import CheckpointSigner
from events.store import NO_STREAM, EventStore
from events.verify import EVENT_COLUMNS, recompute_hash, verify_ledger
from events.vocabulary import ScanCompleted
from tests.support.ledger_samples import (
    ALICE,
    SIGNER,
    fill,
    insert_as_stored,
    nth_position,
    superuser,
)


def sealed_ledger(database: Database, store: EventStore, runs: int = 6) -> int:
    """Fill the ledger and seal it in several checkpoints; return the number of events."""
    total = fill(store, runs=runs)
    seal_all(database.app_url, SIGNER, batch=8)
    return total


def test_an_untouched_ledger_verifies(database: Database, store: EventStore) -> None:
    total = sealed_ledger(database, store)
    fill(store, runs=1)  # a few unsealed events as well

    report = verify_ledger(database.owner_url, SIGNER.verifier(), batch=4)

    assert report.ok, report.first
    assert report.leaves == total and report.events > total
    assert report.unsealed == report.events - total and report.checkpoints >= 4
    assert report.summary().startswith("ledger verified:")


def test_the_application_role_can_run_verify(database: Database, store: EventStore) -> None:
    sealed_ledger(database, store, runs=2)

    assert verify_ledger(database.app_url, SIGNER.verifier()).ok


def test_an_empty_ledger_verifies(database: Database) -> None:
    report = verify_ledger(database.owner_url, SIGNER.verifier())

    assert report.ok and (report.events, report.leaves, report.checkpoints) == (0, 0, 0)


def test_freshly_appended_floats_large_numbers_and_unicode_verify(
    database: Database, store: EventStore
) -> None:
    values: dict[str, Any] = {
        "float": 0.1,
        "big": 1e16,
        "huge": 1.5e300,
        "tiny": 5e-324,
        "integral": 3.0,
        "text": "ß ✓ 😀 \u2028",
        "nested": [{"😀": [1, -2, {"z": None, "a": True}]}],
    }
    store.append(f"run-{uuid.uuid4()}", [_scan()], NO_STREAM, ALICE)
    insert_as_stored(database, "run-raw", "Raw", 1, values, Metadata(actor="bob").to_json())
    seal_all(database.app_url, SIGNER)

    report = verify_ledger(database.owner_url, SIGNER.verifier())

    assert report.ok, report.first


def _scan() -> ScanCompleted:
    return ScanCompleted(
        image_digest="sha256:" + "1" * 64,
        sbom_digest="sha256:" + "2" * 64,
        advisory_set_digest="x",
        advisories=0,
    )


def test_editing_one_events_data_is_caught_naming_its_position(
    database: Database, store: EventStore
) -> None:
    sealed_ledger(database, store)
    target = nth_position(database, 9)
    superuser(
        database,
        "UPDATE events SET data = jsonb_set(data, '{exit_code}', '1') WHERE position = %s",
        params=(target,),
    )

    report = verify_ledger(database.owner_url, SIGNER.verifier())

    assert not report.ok and report.first is not None
    assert report.first.position == target
    assert str(report.first) == (
        f"position {target}: stored hash does not match the event's canonical bytes "
        "(data or metadata was changed)"
    )


def test_editing_metadata_of_an_unsealed_event_is_caught(
    database: Database, store: EventStore
) -> None:
    sealed_ledger(database, store, runs=1)
    fill(store, runs=1)
    target = nth_position(database, 7)
    superuser(
        database,
        """UPDATE events SET metadata = '{"actor": "mallory", "source": "test"}'
           WHERE position = %s""",
        params=(target,),
    )

    first = verify_ledger(database.owner_url, SIGNER.verifier()).first

    assert first is not None and first.position == target


def test_rewriting_an_event_together_with_its_hash_is_caught_by_its_leaf(
    database: Database, store: EventStore
) -> None:
    sealed_ledger(database, store)
    target = nth_position(database, 12)
    superuser(
        database,
        "UPDATE events SET metadata = jsonb_set(metadata, '{actor}', '\"mallory\"') "
        "WHERE position = %s",
        params=(target,),
    )
    _rehash(database, target)

    report = verify_ledger(database.owner_url, SIGNER.verifier())

    assert report.first is not None and report.first.position == target
    assert "differs from sealed leaf 12" in str(report.first)


def _rehash(database: Database, position: int) -> None:
    """Recompute and store the hash of the event at `position`, as a careful forger would."""
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE position = %s", (position,)
        ).fetchone()
    assert row is not None
    new_hash = recompute_hash(row)
    assert isinstance(new_hash, bytes)
    superuser(
        database, "UPDATE events SET hash = %s WHERE position = %s", params=(new_hash, position)
    )


def test_rewriting_event_hash_and_leaf_is_caught_by_the_signed_root(
    database: Database, store: EventStore
) -> None:
    sealed_ledger(database, store)
    target = nth_position(database, 12)  # sealed in the checkpoint covering leaves 8..15
    superuser(
        database,
        "UPDATE events SET data = jsonb_set(data, '{step}', '\"evil\"') WHERE position = %s",
        params=(target,),
    )
    _rehash(database, target)
    superuser(
        database,
        "UPDATE ledger_leaves SET leaf_hash = e.hash FROM events e "
        "WHERE e.position = ledger_leaves.position AND e.position = %s",
        params=(target,),
    )

    report = verify_ledger(database.owner_url, SIGNER.verifier())

    assert report.first is not None
    assert report.first.position == nth_position(database, 8)
    assert "do not give the root signed in the checkpoint at tree size 16" in str(report.first)


def test_deleting_a_sealed_event_is_caught_naming_its_position(
    database: Database, store: EventStore
) -> None:
    sealed_ledger(database, store)
    target = nth_position(database, 17)
    superuser(database, "DELETE FROM events WHERE position = %s", params=(target,))

    report = verify_ledger(database.owner_url, SIGNER.verifier())

    assert report.first is not None and report.first.position == target
    assert str(report.first) == (
        f"position {target}: sealed as leaf 17 but the event is missing (deleted)"
    )


def test_deleting_an_unsealed_event_is_caught_by_the_gap_in_its_stream(
    database: Database, store: EventStore
) -> None:
    sealed_ledger(database, store, runs=1)
    fill(store, runs=1)
    victim = nth_position(database, 7)  # the second event of the second run
    follower = nth_position(database, 8)
    superuser(database, "DELETE FROM events WHERE position = %s", params=(victim,))

    report = verify_ledger(database.owner_url, SIGNER.verifier())

    assert report.first is not None and report.first.position == follower
    assert "goes from version 0 to 2: an event is missing (deleted)" in str(report.first)


def test_a_forged_checkpoint_root_is_caught(database: Database, store: EventStore) -> None:
    sealed_ledger(database, store)
    superuser(
        database,
        "UPDATE ledger_checkpoints SET root = sha256('forged') WHERE tree_size = 16",
    )

    messages = [str(f) for f in verify_ledger(database.owner_url, SIGNER.verifier()).failures]

    assert "checkpoint at tree size 16: signature does not verify (forged checkpoint)" in messages


def test_a_checkpoint_signed_by_another_key_is_caught(
    database: Database, store: EventStore
) -> None:
    fill(store, runs=1)
    seal_all(database.app_url, SIGNER)
    fill(store, runs=1)
    impostor = CheckpointSigner.generate("shiplog")
    seal_all(database.app_url, impostor)

    report = verify_ledger(database.owner_url, SIGNER.verifier())

    assert report.first is not None
    assert str(report.first).startswith(
        f"checkpoint at tree size {report.leaves}: signed by key {impostor.key_id[:16]}"
    )


def test_a_forged_signature_is_caught(database: Database, store: EventStore) -> None:
    sealed_ledger(database, store, runs=2)
    superuser(
        database,
        "UPDATE ledger_checkpoints SET signature = %s WHERE tree_size = 8",
        params=(SIGNER.sign(9, b"\x00" * 32),),
    )

    first = verify_ledger(database.owner_url, SIGNER.verifier()).first

    assert first is not None
    assert str(first) == "checkpoint at tree size 8: signature does not verify (forged checkpoint)"


@pytest.mark.parametrize("batch", [1, 3, 10_000])
def test_verification_gives_the_same_answer_whatever_the_batch_size(
    database: Database, store: EventStore, batch: int
) -> None:
    sealed_ledger(database, store, runs=2)
    target = nth_position(database, 5)
    superuser(database, "DELETE FROM events WHERE position = %s", params=(target,))

    report = verify_ledger(database.owner_url, SIGNER.verifier(), batch=batch)

    assert report.first is not None and report.first.position == target
    assert (report.leaves, report.events, report.checkpoints) == (10, 9, 2)
    assert [f.position for f in report.failures] == [target, target + 1]
