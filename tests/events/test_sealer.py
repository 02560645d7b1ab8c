"""The sealer folds every event, in subscription order, into a signed RFC 6962 tree."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import psycopg
import pytest

from app.config import Settings
from app.database import Database
from app.keys import (
    load_or_create_signing_key,
    load_verifier,
    private_key_path,
    public_key_path,
)
from events import merkle
from events.errors import KeyFileError
from events.sealer import latest_checkpoint, seal, seal_all
from events.signing import open_note
from events.store import NO_STREAM, EventStore
from tests.support.ledger_samples import ALICE, SIGNER, fill, run_events


def subscription_order(database: Database) -> list[tuple[int, bytes]]:
    """(position, hash) of every event in (tx_id, position) order."""
    with psycopg.connect(database.owner_url) as conn:
        rows = conn.execute("SELECT position, hash FROM events ORDER BY tx_id, position")
        return [(row[0], bytes(row[1])) for row in rows]


def leaves(database: Database) -> list[tuple[int, int, bytes]]:
    """(leaf_index, position, leaf_hash) of every sealed leaf, in index order."""
    with psycopg.connect(database.owner_url) as conn:
        rows = conn.execute(
            "SELECT leaf_index, position, leaf_hash FROM ledger_leaves ORDER BY leaf_index"
        )
        return [(row[0], row[1], bytes(row[2])) for row in rows]


def checkpoint_rows(database: Database) -> list[tuple[int, bytes]]:
    """(tree_size, root) of every checkpoint, smallest first."""
    with psycopg.connect(database.owner_url) as conn:
        rows = conn.execute("SELECT tree_size, root FROM ledger_checkpoints ORDER BY tree_size")
        return [(row[0], bytes(row[1])) for row in rows]


def test_sealing_folds_every_event_in_subscription_order(
    database: Database, store: EventStore
) -> None:
    total = fill(store)

    checkpoint = seal_all(database.app_url, SIGNER, batch=7)

    sealed = leaves(database)
    assert [index for index, _, _ in sealed] == list(range(total))
    assert [(p, h) for _, p, h in sealed] == subscription_order(database)
    assert checkpoint is not None and checkpoint.tree_size == total
    hashes = [h for _, _, h in sealed]
    for size, root in checkpoint_rows(database):
        assert root == merkle.root(hashes[:size])
    assert checkpoint.root == merkle.root(hashes)


def test_sealing_an_empty_ledger_writes_nothing(database: Database) -> None:
    assert seal_all(database.app_url, SIGNER) is None
    assert checkpoint_rows(database) == []


def test_each_batch_writes_a_checkpoint_whose_note_verifies_with_the_public_key(
    database: Database, store: EventStore
) -> None:
    total = fill(store, runs=3)

    checkpoint = seal_all(database.app_url, SIGNER, batch=5)

    assert [size for size, _ in checkpoint_rows(database)] == [*range(5, total, 5), total]
    assert checkpoint is not None
    body = open_note(checkpoint.note, SIGNER.public_pem())
    assert (body.tree_size, body.root, body.origin) == (total, checkpoint.root, "shiplog")
    assert checkpoint.key_id == SIGNER.key_id


def test_sealing_is_incremental_and_later_checkpoints_extend_earlier_ones(
    database: Database, store: EventStore
) -> None:
    first_total = fill(store, runs=2)
    first = seal_all(database.app_url, SIGNER)
    assert seal(database.app_url, SIGNER) is None  # nothing new

    second_total = first_total + fill(store, runs=3)
    second = seal_all(database.app_url, SIGNER)

    assert first is not None and second is not None
    assert (first.tree_size, second.tree_size) == (first_total, second_total)
    hashes = [h for _, _, h in leaves(database)]
    proof = merkle.consistency_proof(first.tree_size, hashes)
    assert merkle.verify_consistency(
        first.tree_size, second.tree_size, first.root, second.root, proof
    )
    assert [(p, h) for _, p, h in leaves(database)] == subscription_order(database)


def test_sealer_does_not_pass_an_open_writing_transaction(
    database: Database, store: EventStore
) -> None:
    fill(store, runs=1)
    with psycopg.connect(database.app_url) as slow:
        # Draws a position now but commits only after later events are in.
        slow.execute(
            "INSERT INTO events (stream, version, event_id, type, schema_version, data, "
            "metadata, recorded_at, hash) SELECT 'run-slow', 0, gen_random_uuid(), type, "
            "schema_version, data, metadata, recorded_at, hash FROM events LIMIT 1"
        )
        fill(store, runs=1)
        held_back = seal_all(database.app_url, SIGNER)
        assert held_back is None or held_back.tree_size < len(subscription_order(database))
        slow.commit()
    seal_all(database.app_url, SIGNER)

    assert [(p, h) for _, p, h in leaves(database)] == subscription_order(database)


def test_concurrent_sealers_never_duplicate_or_skip_a_leaf(
    database: Database, store: EventStore
) -> None:
    total = fill(store, runs=20)
    errors: list[BaseException] = []

    def sealer() -> None:
        try:
            for _ in range(5):
                seal_all(database.app_url, SIGNER, batch=3)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=sealer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    sealed = leaves(database)
    assert [index for index, _, _ in sealed] == list(range(total))
    assert [(p, h) for _, p, h in sealed] == subscription_order(database)
    sizes = [size for size, _ in checkpoint_rows(database)]
    assert sizes == sorted(set(sizes)) and sizes[-1] == total


def test_sealing_while_four_writers_append_seals_every_event_once_in_order(
    database: Database, store: EventStore
) -> None:
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for n in range(15):
                store.append(f"run-{uuid.uuid4()}", run_events(n), NO_STREAM, ALICE)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    def sealer() -> None:
        try:
            while not done.is_set():
                seal_all(database.app_url, SIGNER, batch=16)
        except BaseException as error:
            errors.append(error)

    writers = [threading.Thread(target=writer) for _ in range(4)]
    sealing = threading.Thread(target=sealer)
    sealing.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    sealing.join()
    final = seal_all(database.app_url, SIGNER)

    assert errors == []
    sealed = leaves(database)
    assert [(p, h) for _, p, h in sealed] == subscription_order(database)
    assert len(sealed) == 4 * 15 * 4
    assert final is None or final.tree_size == len(sealed)


def test_the_sealer_needs_only_the_application_roles_privileges(
    database: Database, store: EventStore
) -> None:
    fill(store, runs=1)
    checkpoint = seal_all(database.app_url, SIGNER)
    with psycopg.connect(database.app_url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("shiplog_app",)
        latest = latest_checkpoint(conn, SIGNER)
    assert latest is not None and checkpoint is not None
    assert latest.note == checkpoint.note


def test_signing_key_is_created_once_with_private_permissions(settings: Settings) -> None:
    signer = load_or_create_signing_key(settings)
    again = load_or_create_signing_key(settings)

    assert again.key_id == signer.key_id
    assert private_key_path(settings).stat().st_mode & 0o777 == 0o600
    assert settings.key_dir.stat().st_mode & 0o777 == 0o700
    assert public_key_path(settings).read_text() == signer.public_pem()
    assert load_verifier(settings).key_id == signer.key_id


def test_processes_racing_to_create_the_key_end_up_with_one_key(settings: Settings) -> None:
    results: list[str] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        results.append(load_or_create_signing_key(settings).key_id)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 8 and len(set(results)) == 1
    assert sorted(p.name for p in settings.key_dir.iterdir()) == ["ledger.key", "ledger.pub"]


def test_a_signing_key_readable_by_others_is_refused(settings: Settings, tmp_path: Path) -> None:
    load_or_create_signing_key(settings)
    private_key_path(settings).chmod(0o644)

    with pytest.raises(KeyFileError, match="chmod 600"):
        load_or_create_signing_key(settings)
