"""SLSA provenance and DSSE attestations over a real PostgreSQL ledger (no Docker here).

A build is recorded event by event through the real event store, as a runner
records it; tests/provenance/test_provenance_build.py does the same with a real pipeline,
a real engine and a real registry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.database import Database
from app.keys import load_or_create_attestation_key
from app.projections import projector
from app.provenance.attestations import Attestor
from app.provenance.dsse import BadEnvelope, pae, sign_envelope, verify_envelope
from app.provenance.slsa import BUILD_TYPE, image_in_run, run_images, statement_bytes
from app.queries.provenance import provenance
from events.catalogue import Metadata
from events.store import EventStore, RecordedEvent
from events.vocabulary import (
    CATALOGUE,
    BaseImage,
    ImageBuilt,
    ImagePushed,
    ProvenanceSigned,
    RunClaimed,
    RunQueued,
    RunSucceeded,
    StepFinished,
    StepStarted,
    TestsReported,
)
from tests.support.slsa_schema import SCHEMA

RUNNER = Metadata(actor="runner:r1", source="runner")
COMMIT = "c0ffee" + "0" * 34
IMAGE_ID = "sha256:" + "1" * 64
MANIFEST = "sha256:" + "2" * 64
BASE = "sha256:" + "3" * 64
CONTEXT = "sha256:" + "4" * 64
DOCKERFILE = "5" * 64
LOGS = {"build": "6" * 64, "test": "7" * 64, "push": "8" * 64}
REPORT = "9" * 64
UNKNOWN = "sha256:" + "e" * 64


@dataclass
class Recorded:
    """A build recorded in the ledger: the run id and each event as stored."""

    run_id: str
    events: list[RecordedEvent]

    def of(self, kind: type) -> RecordedEvent:
        """The first recorded event of type `kind`."""
        return next(event for event in self.events if isinstance(event.data, kind))


def _started(step: str) -> StepStarted:
    return StepStarted(step=step, image="docker build", commands_digest="sha256:" + "a" * 64)


def _finished(step: str) -> StepFinished:
    return StepFinished(step=step, exit_code=0, duration_ms=5, log_sha256=LOGS[step], log_lines=3)


def record_build(store: EventStore, *, succeed: bool = True) -> Recorded:
    """Append a build → test → push run one event at a time (each its own transaction)."""
    run_id = str(uuid.uuid4())
    meta = RUNNER.model_copy(update={"correlation_id": run_id})
    events = [
        RunQueued(
            repository="https://git.example/acme/web.git",
            commit=COMMIT,
            ref="refs/heads/main",
            trigger="manual",
            pipeline_path=".shiplog.yml",
            pipeline_digest="sha256:" + "b" * 64,
        ),
        RunClaimed(runner="host-1:42", runner_version="0.1.0", docker_version="20.10.24"),
        _started("build"),
        ImageBuilt(
            step="build",
            image_id=IMAGE_ID,
            base_images=(BaseImage(name="shiplog/busybox:1", digest=BASE),),
            dockerfile_sha256=DOCKERFILE,
            context_digest=CONTEXT,
            build_args={"VERSION": "1.0.0"},
            secret_args=("TOKEN",),
            labels={"dev.shiplog.run": run_id},
            tags=("acme/web:1.0.0",),
        ),
        _finished("build"),
        _started("test"),
        TestsReported(step="test", passed=2, failed=0, skipped=1, report_sha256=REPORT),
        _finished("test"),
        _started("push"),
        ImagePushed(
            step="push", repository="reg.example/acme/web", tag="1", digest=MANIFEST,
            image_id=IMAGE_ID,
        ),
        ImagePushed(
            step="push", repository="reg.example/acme/web", tag="latest", digest=MANIFEST,
            image_id=IMAGE_ID,
        ),
        _finished("push"),
    ]  # fmt: skip
    if succeed:
        events.append(RunSucceeded(duration_ms=100))
    for version, event in enumerate(events):
        store.append(f"run-{run_id}", [event], version - 1 if version else "no_stream", meta)
    projector(store).catch_up_all()
    return Recorded(run_id, store.read_stream(f"run-{run_id}"))


# --- the statement ---------------------------------------------------------------------------


def test_a_recorded_build_gives_a_statement_valid_as_slsa_v1_with_each_fact_from_its_event(
    store: EventStore,
) -> None:
    run = record_build(store)

    statement = provenance(store, MANIFEST)

    jsonschema.validate(statement, SCHEMA)
    assert statement["subject"] == [
        {"name": "reg.example/acme/web", "digest": {"sha256": "2" * 64}}
    ]
    build = statement["predicate"]["buildDefinition"]
    assert build["buildType"] == BUILD_TYPE
    assert build["externalParameters"] == {
        "repository": "https://git.example/acme/web.git",
        "ref": "refs/heads/main",
        "pipeline": ".shiplog.yml",
        "step": "build",
        "dirty": False,
    }
    assert build["internalParameters"]["buildArgs"] == {"VERSION": "1.0.0"}
    assert build["internalParameters"]["secretArgs"] == ["TOKEN"]
    assert build["internalParameters"]["imageId"] == IMAGE_ID
    deps = {dep["name"]: dep for dep in build["resolvedDependencies"]}
    assert deps["source"] == {
        "name": "source",
        "uri": "git+https://git.example/acme/web.git@refs/heads/main",
        "digest": {"gitCommit": COMMIT},
    }
    assert deps["dockerfile"]["digest"] == {"sha256": DOCKERFILE}
    assert deps["context"]["digest"] == {"sha256": "4" * 64}
    assert deps["base-image"] == {
        "name": "base-image",
        "digest": {"sha256": "3" * 64},
        "annotations": {"reference": "shiplog/busybox:1"},
    }
    assert deps["pipeline"]["digest"] == {"sha256": "b" * 64}
    details = statement["predicate"]["runDetails"]
    assert details["builder"] == {
        "id": "urn:shiplog:runner:host-1:42",
        "version": {"shiplog": "0.1.0", "docker": "20.10.24"},
    }
    claimed, last_finished = run.of(RunClaimed), run.events[-2]
    assert isinstance(last_finished.data, StepFinished)
    assert details["metadata"] == {
        "invocationId": run.run_id,
        "startedOn": claimed.recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "finishedOn": last_finished.recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    assert [(b["name"], b["digest"]) for b in details["byproducts"]] == [
        ("log/build", {"sha256": LOGS["build"]}),
        ("test-report/test", {"sha256": REPORT}),
        ("log/test", {"sha256": LOGS["test"]}),
        ("log/push", {"sha256": LOGS["push"]}),
    ]


def test_the_schema_rejects_a_statement_missing_what_slsa_requires(store: EventStore) -> None:
    record_build(store)
    statement = provenance(store, MANIFEST)
    del statement["predicate"]["runDetails"]["builder"]["id"]
    with pytest.raises(jsonschema.ValidationError, match="'id' is a required property"):
        jsonschema.validate(statement, SCHEMA)


def test_the_image_id_and_the_manifest_digest_answer_with_the_same_statement(
    store: EventStore, client: TestClient
) -> None:
    record_build(store)

    by_manifest = client.get(f"/api/images/{MANIFEST}/provenance")
    by_id = client.get(f"/api/images/{IMAGE_ID}/provenance")

    assert by_manifest.status_code == 200, by_manifest.text
    assert by_manifest.headers["content-type"] == "application/vnd.in-toto+json"
    assert by_manifest.content == by_id.content
    assert by_manifest.content == statement_bytes(provenance(store, IMAGE_ID))


# --- 404, as_of and 422 --------------------------------------------------------------------


def test_an_unknown_digest_is_404_saying_no_run_built_or_pushed_it(
    store: EventStore, client: TestClient
) -> None:
    record_build(store)
    answer = client.get(f"/api/images/{UNKNOWN}/provenance")
    assert answer.status_code == 404
    assert answer.json()["detail"] == (
        f"no image {UNKNOWN} in the ledger: no run built an image with that id "
        "or pushed a manifest with that digest"
    )


def test_as_of_a_cursor_or_time_before_the_build_is_404_saying_it_came_later(
    store: EventStore, client: TestClient
) -> None:
    run = record_build(store)
    claimed = run.of(RunClaimed)

    by_cursor = client.get(
        f"/api/images/{IMAGE_ID}/provenance", params={"as_of": str(claimed.cursor)}
    )
    before = (claimed.recorded_at + timedelta(microseconds=1)).isoformat()
    by_time = client.get(f"/api/images/{MANIFEST}/provenance", params={"as_of": before})

    assert by_cursor.status_code == 404
    assert by_cursor.json()["detail"] == (
        f"image {IMAGE_ID} did not exist as of {claimed.cursor}: the ledger records it only later"
    )
    assert by_time.status_code == 404
    assert "did not exist as of" in by_time.json()["detail"]


def test_as_of_between_build_and_push_answers_from_the_events_up_to_then(
    store: EventStore, client: TestClient
) -> None:
    run = record_build(store)
    built = run.of(ImageBuilt)

    answer = client.get(f"/api/images/{IMAGE_ID}/provenance", params={"as_of": str(built.cursor)})
    pushed_then = client.get(
        f"/api/images/{MANIFEST}/provenance", params={"as_of": str(built.cursor)}
    )

    assert answer.status_code == 200, answer.text
    statement = answer.json()
    jsonschema.validate(statement, SCHEMA)
    # Not pushed yet: the subject is the image id; no step had ended, the run was not over.
    assert statement["subject"] == [{"name": "acme/web:1.0.0", "digest": {"sha256": "1" * 64}}]
    assert "finishedOn" not in statement["predicate"]["runDetails"]["metadata"]
    assert statement["predicate"]["runDetails"]["byproducts"] == []
    assert pushed_then.status_code == 404


def test_a_malformed_as_of_is_422_naming_the_parameter(
    store: EventStore, client: TestClient
) -> None:
    record_build(store)
    answer = client.get(f"/api/images/{IMAGE_ID}/provenance", params={"as_of": "yesterday"})
    assert answer.status_code == 422
    (problem,) = answer.json()["detail"]
    assert problem["loc"] == ["query", "as_of"]
    assert "invalid as_of 'yesterday'" in problem["msg"]


def test_a_malformed_digest_is_422_naming_the_path_parameter(client: TestClient) -> None:
    answer = client.get("/api/images/sha256:XYZ/provenance")
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["path", "digest"]


# --- signing ---------------------------------------------------------------------------------


def sign_recorded(store: EventStore, settings: Settings, run: Recorded) -> list[ProvenanceSigned]:
    """Sign a recorded run's images as the runner does and record ProvenanceSigned."""
    attestor = Attestor(load_or_create_attestation_key(settings), store)
    events = [e for e in run.events if not isinstance(e.data, RunSucceeded)]
    signed = attestor.sign_run(run.run_id, events)
    meta = RUNNER.model_copy(update={"correlation_id": run.run_id})
    store.append(f"run-{run.run_id}", signed, "any", meta)
    return signed


def test_a_signed_envelope_is_stored_served_and_holds_exactly_the_served_statement(
    store: EventStore, settings: Settings, client: TestClient
) -> None:
    run = record_build(store)
    (signed,) = sign_recorded(store, settings, run)

    served = client.get(f"/api/images/{MANIFEST}/attestation")

    assert served.status_code == 200, served.text
    assert hashlib.sha256(served.content).hexdigest() == signed.envelope_digest.split(":")[1]
    assert (signed.step, signed.image_digest, signed.subject_digests) == (
        "build",
        IMAGE_ID,
        (MANIFEST,),
    )
    public = load_or_create_attestation_key(settings).public_key()
    verified = verify_envelope(served.content, public)
    assert verified.key_id == signed.key_id
    assert verified.payload == client.get(f"/api/images/{IMAGE_ID}/provenance").content


def test_an_image_whose_run_never_signed_has_no_attestation_404(
    store: EventStore, client: TestClient
) -> None:
    record_build(store)
    answer = client.get(f"/api/images/{MANIFEST}/attestation")
    assert answer.status_code == 404
    assert answer.json()["detail"].startswith(f"image {MANIFEST} has no signed provenance")


def test_the_attestations_table_refuses_a_wrong_digest_and_any_change(
    store: EventStore, settings: Settings, database: Database
) -> None:
    run = record_build(store)
    (signed,) = sign_recorded(store, settings, run)
    with psycopg.connect(database.app_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO attestations (envelope_digest, envelope) VALUES (%s, %s)",
                (UNKNOWN, b"{}"),
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE attestations SET envelope = %s", (b"{}",))
    with (
        psycopg.connect(database.owner_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
    ):
        conn.execute(
            "DELETE FROM attestations WHERE envelope_digest = %s", (signed.envelope_digest,)
        )


def test_the_attestation_key_is_its_own_private_file_not_the_ledger_key(
    cli: CliRunner, settings: Settings
) -> None:
    result = cli.invoke(app, ["attest", "pubkey"])
    ledger = cli.invoke(app, ["ledger", "pubkey"])

    assert result.exit_code == 0, result.output
    key = serialization.load_pem_public_key(result.stdout.encode())
    private = settings.key_dir / "attestation.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert result.stdout != ledger.stdout
    assert key.public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ) == load_or_create_attestation_key(settings).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


# --- DSSE ------------------------------------------------------------------------------------


def test_pae_is_the_dsse_spec_example_byte_for_byte() -> None:
    # protocol.md's test vector, and the lengths counted by hand: 29 and 11 bytes.
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    # Lengths are of the UTF-8 bytes, not characters: "é" is 2 bytes.
    assert pae("t\u00e9", b"") == b"DSSEv1 3 t\xc3\xa9 0 "


def test_sign_then_verify_returns_the_payload_and_the_signing_key_id() -> None:
    key = Ed25519PrivateKey.generate()
    body = b'{"_type":"x"}'
    verified = verify_envelope(sign_envelope(body, key), key.public_key())
    assert verified.payload == body
    assert verified.statement == {"_type": "x"}
    assert len(verified.key_id) == 64


def test_url_safe_base64_is_accepted_as_dsse_requires() -> None:
    key = Ed25519PrivateKey.generate()
    body = bytes(range(250, 256)) * 3 + b"{}"  # encodes with + and / in standard base64
    envelope = json.loads(sign_envelope(body, key))
    envelope["payload"] = base64.urlsafe_b64encode(body).decode().rstrip("=")
    with pytest.raises(BadEnvelope, match="malformed payload: not JSON"):
        # The signature verified (the error is the one after it): the body is not JSON.
        verify_envelope(json.dumps(envelope).encode(), key.public_key())


# --- shiplog attest verify -------------------------------------------------------------------


@pytest.fixture
def signed_file(
    store: EventStore, settings: Settings, cli: CliRunner, tmp_path: Path
) -> tuple[Path, Path]:
    """(envelope file fetched with `shiplog attest get`, public key file from `attest pubkey`)."""
    run = record_build(store)
    sign_recorded(store, settings, run)
    envelope = tmp_path / "prov.dsse.json"
    got = cli.invoke(app, ["attest", "get", MANIFEST, "-o", str(envelope)])
    assert got.exit_code == 0, got.output
    pub = tmp_path / "attestation.pub"
    pub.write_text(cli.invoke(app, ["attest", "pubkey"]).stdout)
    return envelope, pub


def verify_cli(cli: CliRunner, *args: str) -> tuple[int, str]:
    """`shiplog attest verify ARGS`: (exit code, stderr), checking it is one line at most."""
    result = cli.invoke(app, ["attest", "verify", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert len(result.stderr.splitlines()) <= 1, result.stderr
    return result.exit_code, result.stderr.strip() or result.stdout.strip()


def test_attest_verify_accepts_the_envelope_with_its_key_and_subject_digest(
    cli: CliRunner, signed_file: tuple[Path, Path]
) -> None:
    envelope, pub = signed_file
    code, said = verify_cli(cli, str(envelope), "--key", str(pub), "--digest", MANIFEST)
    assert code == 0, said
    assert said.startswith("verified: signed by key ")
    assert f"subject {MANIFEST}" in said


def test_attest_verify_rejects_a_flipped_payload_byte(
    cli: CliRunner, signed_file: tuple[Path, Path]
) -> None:
    envelope, pub = signed_file
    document = json.loads(envelope.read_bytes())
    body = bytearray(base64.b64decode(document["payload"]))
    body[10] ^= 0x01
    document["payload"] = base64.b64encode(bytes(body)).decode()
    envelope.write_text(json.dumps(document))

    code, said = verify_cli(cli, str(envelope), "--key", str(pub))

    assert code == 1
    assert "bad signature: none of the envelope's 1 signature(s) verifies with key" in said


def test_attest_verify_rejects_another_key(
    cli: CliRunner, signed_file: tuple[Path, Path], tmp_path: Path
) -> None:
    envelope, _ = signed_file
    other = tmp_path / "other.pub"
    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    code, said = verify_cli(cli, str(envelope), "--key", str(other))
    assert code == 1
    assert "bad signature" in said


def test_attest_verify_rejects_a_validly_signed_envelope_of_another_payload_type(
    cli: CliRunner, signed_file: tuple[Path, Path], settings: Settings
) -> None:
    envelope, pub = signed_file
    body = base64.b64decode(json.loads(envelope.read_bytes())["payload"])
    key = load_or_create_attestation_key(settings)
    envelope.write_bytes(sign_envelope(body, key, payload_type="application/json"))

    code, said = verify_cli(cli, str(envelope), "--key", str(pub))

    assert code == 1
    assert said.endswith(
        "does not verify: wrong payloadType 'application/json': "
        "expected 'application/vnd.in-toto+json'"
    )


def test_attest_verify_rejects_a_digest_the_statement_is_not_about(
    cli: CliRunner, signed_file: tuple[Path, Path]
) -> None:
    envelope, pub = signed_file
    code, said = verify_cli(cli, str(envelope), "--key", str(pub), "--digest", UNKNOWN)
    assert code == 1
    assert f"subject digest mismatch: the statement is about {MANIFEST}, not {UNKNOWN}" in said


def test_attest_verify_rejects_malformed_json_in_one_line(
    cli: CliRunner, signed_file: tuple[Path, Path]
) -> None:
    envelope, pub = signed_file
    envelope.write_text('{"payload": ')
    code, said = verify_cli(cli, str(envelope), "--key", str(pub))
    assert code == 1
    assert "does not verify: malformed envelope: not JSON" in said


def test_attest_verify_with_a_key_file_that_is_no_key_is_a_user_error(
    cli: CliRunner, signed_file: tuple[Path, Path]
) -> None:
    envelope, _ = signed_file
    code, said = verify_cli(cli, str(envelope), "--key", str(envelope))
    assert code == 2
    assert "is not an ed25519 public key" in said


# --- which pushes belong to which image --------------------------------------------------------


def as_recorded(*events: object, schema_version: int = 2) -> list[RecordedEvent]:
    """Events as a run's stream would hold them (for the pure functions of slsa)."""
    return [
        RecordedEvent(
            position=i + 1,
            tx_id=i + 1,
            stream="run-x",
            version=i,
            event_id=uuid.uuid4(),
            type_name=type(event).__name__,
            schema_version=schema_version if isinstance(event, ImagePushed) else 1,
            data=event,  # type: ignore[arg-type]
            metadata=RUNNER,
            recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
            hash=b"",
        )
        for i, event in enumerate(events)
    ]


def built(step: str, image_id: str) -> ImageBuilt:
    """An ImageBuilt of `image_id` by `step`."""
    return ImageBuilt(
        step=step,
        image_id=image_id,
        base_images=(),
        dockerfile_sha256=DOCKERFILE,
        context_digest=CONTEXT,
        build_args={},
        labels={},
    )


def test_pushes_go_to_the_image_they_name_when_a_run_builds_two() -> None:
    other_id, other_manifest = "sha256:" + "a" * 64, "sha256:" + "f" * 64
    events = as_recorded(
        built("app", IMAGE_ID),
        built("worker", other_id),
        ImagePushed(step="p", repository="r/w", tag="1", digest=other_manifest, image_id=other_id),
    )
    app_image, worker_image = run_images(events)
    assert app_image.subject_digests == (IMAGE_ID,)
    assert worker_image.subject_digests == (other_manifest,)
    assert image_in_run(events, other_manifest) == worker_image


def test_a_version_1_image_pushed_reads_without_image_id_and_goes_to_the_runs_only_image() -> None:
    old = CATALOGUE.decode(
        "ImagePushed",
        1,
        f'{{"step": "p", "repository": "r/a", "tag": "1", "digest": "{MANIFEST}"}}',
    )
    assert isinstance(old, ImagePushed) and old.image_id is None
    (only,) = run_images(as_recorded(built("app", IMAGE_ID), old, schema_version=1))
    assert only.subject_digests == (MANIFEST,)
    two = run_images(as_recorded(built("a", IMAGE_ID), built("b", UNKNOWN), old, schema_version=1))
    assert [image.pushes for image in two] == [(), ()]  # cannot tell whose it was


def test_a_version_2_push_without_image_id_is_of_an_image_the_run_did_not_build() -> None:
    foreign = ImagePushed(step="p", repository="r/base", tag="1", digest=MANIFEST, image_id=None)
    (only,) = run_images(as_recorded(built("app", IMAGE_ID), foreign))
    assert only.pushes == ()
    assert only.subject_digests == (IMAGE_ID,)


def test_before_the_runs_projection_has_caught_up_the_api_says_so_with_503(
    store: EventStore, client: TestClient
) -> None:
    answer = client.get(f"/api/images/{IMAGE_ID}/provenance")
    assert answer.status_code == 503
    assert "has not caught up with the ledger yet" in answer.json()["detail"]


def test_attest_get_of_an_unknown_digest_is_one_line_and_exit_2(
    store: EventStore, cli: CliRunner
) -> None:
    record_build(store)
    result = cli.invoke(app, ["attest", "get", UNKNOWN])
    assert result.exit_code == 2
    assert result.stderr == (
        f"shiplog: no image {UNKNOWN} in the ledger: no run built an image with that id "
        "or pushed a manifest with that digest\n"
    )
