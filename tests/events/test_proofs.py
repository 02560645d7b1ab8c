"""Inclusion and consistency proofs check offline and fail when forged; the CLI round-trips them."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.database import Database
from app.keys import load_or_create_signing_key, public_key_path
from events.canonical import canonical_json
from events.errors import LedgerMismatch, NoCheckpoint, NotSealed, UnknownEvent
from events.merkle import leaf_hash
from events.proofs import check_consistency, check_inclusion, prove_consistency, prove_inclusion
from events.sealer import seal_all
from events.signing import CheckpointBody, CheckpointSigner, signed_note
from events.store import NO_STREAM, EventStore
from tests.support.ledger_samples import ALICE, SIGNER, fill, nth_position, run_events, superuser

PEM = SIGNER.public_pem()


def event_id_at(database: Database, n: int) -> uuid.UUID:
    """The id of the n-th event in subscription order."""
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute(
            "SELECT event_id FROM events ORDER BY tx_id, position OFFSET %s LIMIT 1", (n,)
        ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


@pytest.fixture
def sealed(database: Database, store: EventStore) -> Database:
    """A ledger of 22 events sealed in checkpoints of 8, 16 and 22 leaves."""
    fill(store, runs=5)
    seal_all(database.app_url, SIGNER, batch=8)
    return database


def test_an_inclusion_proof_checks_offline_with_the_public_key(sealed: Database) -> None:
    event_id = event_id_at(sealed, 13)

    document = prove_inclusion(sealed.app_url, event_id, verifier=SIGNER)
    ok, reason = check_inclusion(json.loads(json.dumps(document)), PEM)

    assert ok, reason
    assert (document["leaf_index"], document["tree_size"]) == (13, 22)
    assert document["event"]["event_id"] == str(event_id)
    assert reason.startswith(f"event {event_id} is leaf 13 of the shiplog ledger")


@pytest.mark.parametrize("n", [0, 1, 7, 8, 16, 21])
def test_every_leaf_has_a_valid_inclusion_proof(sealed: Database, n: int) -> None:
    document = prove_inclusion(sealed.app_url, event_id_at(sealed, n), verifier=SIGNER)

    assert check_inclusion(document, PEM)[0]


def forged(document: dict[str, Any], change: str) -> dict[str, Any]:
    """A copy of a proof with one thing changed the way a forger might."""
    fake = copy.deepcopy(document)
    if change == "event data":
        fake["event"]["data"]["step"] = "deploy"
    elif change == "event and its leaf hash":
        fake["event"]["metadata"]["actor"] = "mallory"
        del fake["leaf_hash"]
    elif change == "audit path":
        path = fake["audit_path"]
        path[1] = path[1][:-2] + ("00" if path[1][-2:] != "00" else "11")
    elif change == "leaf index":
        fake["leaf_index"] += 1
    elif change == "root":
        fake["root"] = "ab" * 32
    elif change == "tree size":
        fake["tree_size"] = 10**6
    return fake


@pytest.mark.parametrize(
    "change",
    ["event data", "event and its leaf hash", "audit path", "leaf index", "root", "tree size"],
)
def test_a_forged_inclusion_proof_fails(sealed: Database, change: str) -> None:
    document = prove_inclusion(sealed.app_url, event_id_at(sealed, 13), verifier=SIGNER)

    ok, reason = check_inclusion(forged(document, change), PEM)

    assert not ok
    assert reason


def test_an_inclusion_proof_fails_with_another_public_key(sealed: Database) -> None:
    document = prove_inclusion(sealed.app_url, event_id_at(sealed, 3), verifier=SIGNER)
    other = CheckpointSigner.generate("shiplog").public_pem()

    ok, reason = check_inclusion(document, other)

    assert not ok and "no signature by key" in reason


def test_a_proof_signed_by_a_forger_fails_even_with_its_own_key_inside(sealed: Database) -> None:
    document = prove_inclusion(sealed.app_url, event_id_at(sealed, 3), verifier=SIGNER)
    forger = CheckpointSigner.generate("shiplog")
    fake = forged(document, "event and its leaf hash")
    fake.update(audit_path=[], leaf_index=0, tree_size=1, public_key=forger.public_pem())
    leaf = leaf_hash(canonical_json(fake["event"]))
    fake["root"] = leaf.hex()
    fake["checkpoint"] = signed_note(
        forger, CheckpointBody("shiplog", 1, leaf), forger.sign(1, leaf)
    )

    assert check_inclusion(fake, forger.public_pem())[0]  # self-consistent forgery...
    assert not check_inclusion(fake, PEM)[0]  # ...that the ledger's real key rejects


def test_proving_an_unknown_or_unsealed_event_names_the_event(
    sealed: Database, store: EventStore
) -> None:
    missing = uuid.uuid4()
    with pytest.raises(UnknownEvent, match=str(missing)):
        prove_inclusion(sealed.app_url, missing, verifier=SIGNER)
    with pytest.raises(UnknownEvent, match="not an event id"):
        prove_inclusion(sealed.app_url, "nope", verifier=SIGNER)
    fresh = uuid.uuid4()
    store.append(f"run-{uuid.uuid4()}", run_events(0)[:1], NO_STREAM, ALICE, event_ids=[fresh])
    with pytest.raises(NotSealed, match=f"event {fresh} is not sealed yet"):
        prove_inclusion(sealed.app_url, fresh, verifier=SIGNER)


def test_no_proof_is_made_from_a_checkpoint_signed_by_another_key(
    sealed: Database, store: EventStore
) -> None:
    fill(store, runs=1)
    seal_all(sealed.app_url, CheckpointSigner.generate("shiplog"))

    with pytest.raises(LedgerMismatch, match="is not signed by this ledger's key"):
        prove_inclusion(sealed.app_url, event_id_at(sealed, 0), verifier=SIGNER)
    with pytest.raises(LedgerMismatch, match="tree size 28 is not signed"):
        prove_consistency(sealed.app_url, verifier=SIGNER)


def test_a_consistency_proof_between_the_two_latest_checkpoints_checks(sealed: Database) -> None:
    document = prove_consistency(sealed.app_url, verifier=SIGNER)

    ok, reason = check_consistency(json.loads(json.dumps(document)), PEM)

    assert ok, reason
    assert (document["old"]["tree_size"], document["new"]["tree_size"]) == (16, 22)


@pytest.mark.parametrize(("old", "new"), [(8, 22), (8, 16), (16, 16), (8, None)])
def test_consistency_proofs_between_any_two_checkpoints_check(
    sealed: Database, old: int, new: int | None
) -> None:
    document = prove_consistency(sealed.app_url, old, new, verifier=SIGNER)

    assert check_consistency(document, PEM)[0]


@pytest.mark.parametrize("change", ["proof node", "old root", "new size", "swap"])
def test_a_tampered_consistency_proof_fails(sealed: Database, change: str) -> None:
    document = prove_consistency(sealed.app_url, 8, 22, verifier=SIGNER)
    fake = copy.deepcopy(document)
    if change == "proof node":
        fake["proof"][0] = "00" * 32
    elif change == "old root":
        fake["old"]["root"] = "00" * 32
    elif change == "new size":
        fake["new"]["tree_size"] = 23
    else:
        fake["old"], fake["new"] = fake["new"], fake["old"]

    ok, reason = check_consistency(fake, PEM)

    assert not ok and reason


def test_a_consistency_proof_needs_checkpoints_at_both_sizes(sealed: Database) -> None:
    with pytest.raises(NoCheckpoint, match="no checkpoint has tree size 9"):
        prove_consistency(sealed.app_url, 9, 22, verifier=SIGNER)


def test_malformed_proof_documents_fail_with_a_reason() -> None:
    documents: list[Any] = [{}, [], {"format": "shiplog-inclusion-proof/v1"}, None, "text"]
    for document in documents:
        ok, reason = check_inclusion(document, PEM)
        assert not ok and reason.startswith("malformed proof")


# --- the command line ------------------------------------------------------------------


def test_cli_checkpoint_prove_and_check_round_trip(
    cli: CliRunner, settings: Settings, database: Database, store: EventStore, tmp_path: Path
) -> None:
    fill(store, runs=2)
    event_id = event_id_at(database, 5)

    sealed = cli.invoke(app, ["ledger", "checkpoint"])
    proved = cli.invoke(app, ["ledger", "prove", str(event_id), "-o", str(tmp_path / "p.json")])
    key = tmp_path / "ledger.pub"
    key.write_text(cli.invoke(app, ["ledger", "pubkey"]).stdout)
    checked = cli.invoke(app, ["ledger", "check", str(tmp_path / "p.json"), "--key", str(key)])

    assert sealed.exit_code == 0, sealed.output
    assert "sealed 10 new events" in sealed.stdout and "tree size  10" in sealed.stdout
    assert proved.exit_code == 0, proved.output
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.startswith(f"OK event {event_id} is leaf 5")
    assert key.read_text() == public_key_path(settings).read_text()


def test_cli_check_rejects_a_forged_event_with_one_line(
    cli: CliRunner, store: EventStore, database: Database, tmp_path: Path
) -> None:
    fill(store, runs=1)
    assert cli.invoke(app, ["ledger", "checkpoint"]).exit_code == 0
    document = json.loads(
        cli.invoke(app, ["ledger", "prove", str(event_id_at(database, 2))]).stdout
    )
    (tmp_path / "forged.json").write_text(json.dumps(forged(document, "event data")))

    result = cli.invoke(app, ["ledger", "check", str(tmp_path / "forged.json")])

    assert result.exit_code == 1
    assert result.stderr.startswith("FAILED the event does not hash to the proof's leaf hash")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON (line 1, column 2)"),
        ('{"format": "something else"}', "FAILED malformed proof: unknown format"),
    ],
)
def test_cli_check_of_a_bad_proof_file_gives_one_clear_line(
    cli: CliRunner, tmp_path: Path, settings: Settings, content: str, message: str
) -> None:
    load_or_create_signing_key(settings)
    (tmp_path / "bad.json").write_text(content)

    result = cli.invoke(app, ["ledger", "check", str(tmp_path / "bad.json")])

    assert result.exit_code in (1, 2)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_cli_check_without_a_key_file_says_so(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text("{}")

    result = cli.invoke(app, ["ledger", "check", str(tmp_path / "p.json"), "--key", "nope.pem"])

    assert result.exit_code == 2
    assert result.stderr == "shiplog: cannot use public key nope.pem: No such file or directory\n"


def test_cli_prove_of_an_unknown_event_gives_one_clear_line(
    cli: CliRunner, store: EventStore
) -> None:
    fill(store, runs=1)
    cli.invoke(app, ["ledger", "checkpoint"])
    missing = uuid.uuid4()

    result = cli.invoke(app, ["ledger", "prove", str(missing)])

    assert result.exit_code == 2
    assert result.stderr == f"shiplog: no event has id {missing}\n"


def test_cli_verify_exits_0_on_a_clean_ledger_and_1_naming_the_changed_position(
    cli: CliRunner, store: EventStore, database: Database
) -> None:
    fill(store, runs=2)
    cli.invoke(app, ["ledger", "checkpoint"])

    clean = cli.invoke(app, ["verify"])
    target = nth_position(database, 4)
    superuser(
        database,
        "UPDATE events SET data = jsonb_set(data, '{step}', '\"evil\"') WHERE position = %s",
        params=(target,),
    )
    tampered = cli.invoke(app, ["verify"])

    assert clean.exit_code == 0, clean.output
    assert clean.stdout.startswith("ledger verified: 10 events, 10 sealed leaves")
    assert tampered.exit_code == 1
    assert tampered.stderr.splitlines()[0] == (
        f"FAILED position {target}: stored hash does not match the event's canonical bytes "
        "(data or metadata was changed)"
    )


def test_cli_verify_of_an_empty_ledger_needs_no_key(cli: CliRunner, settings: Settings) -> None:
    result = cli.invoke(app, ["verify"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ledger verified: 0 events")
    assert not settings.key_dir.exists()


def test_cli_consistency_proof_round_trips(
    cli: CliRunner, store: EventStore, tmp_path: Path
) -> None:
    fill(store, runs=1)
    cli.invoke(app, ["ledger", "checkpoint"])
    fill(store, runs=1)
    cli.invoke(app, ["ledger", "checkpoint"])

    proved = cli.invoke(app, ["ledger", "prove-consistency", "-o", str(tmp_path / "c.json")])
    checked = cli.invoke(app, ["ledger", "check", str(tmp_path / "c.json")])

    assert proved.exit_code == 0, proved.output
    assert checked.exit_code == 0, checked.output
    assert "at tree size 12 extends its tree at size 6" in checked.stdout
