"""Signed provenance of real builds: `shiplog run` on a real engine, pushing to a real registry.

The statement's digests are checked against what the engine, the registry, the
repository and the stored logs say, computed here independently of the executor.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.database import Database
from app.projections import projector
from app.provenance.attestations import envelope_digest
from app.queries.logs import log_digest, read_log
from app.queries.provenance import provenance
from app.server import create_app
from app.services.access import Role
from events.store import EventStore
from events.vocabulary import (
    ImageBuilt,
    ProvenanceSigned,
    RunClaimed,
    RunQueued,
    StepFinished,
)
from tests.support.access import bearer
from tests.support.runs import (
    BUSYBOX,
    commands_pipeline,
    git,
    hello_app,
    hello_pipeline,
    index_of,
    of_type,
    one,
    run_events,
    run_id_in,
    unique_name,
)
from tests.support.slsa_schema import SCHEMA

pytestmark = pytest.mark.usefixtures("leftover_guard")  # nothing left on the engine

REPORT = (
    '<testsuite name="hello" tests="2" failures="0">'
    '<testcase classname="hello" name="greets_the_world"/>'
    '<testcase classname="hello" name="greets_by_name"/></testsuite>\n'
)


def run_pipeline(cli: CliRunner, repo: Path) -> str:
    """`shiplog run REPO`, which must succeed; the run id."""
    result = cli.invoke(app, ["run", str(repo)])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return run_id_in(result.output)


def hex_of(digest: str) -> str:
    """The hex part of `sha256:<hex>`."""
    algorithm, _, value = digest.partition(":")
    assert algorithm == "sha256", digest
    return value


def test_the_runner_signs_a_pushed_build_whose_statement_holds_the_real_digests(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    settings: Settings,
    docker_client: Any,
    busybox_image: str,
    registry: Any,
    tmp_path: Path,
) -> None:
    name, pushed_name = unique_name("shiplog-test/prov"), unique_name("shiplog-test/prov-pushed")
    push_repository = f"{registry.address}/{pushed_name}"
    repo = hello_app(
        tmp_path / "hello", hello_pipeline(f"{name}:1.0.0", push_repository, ("1.0.0", "latest"))
    )
    commit = git(repo, "rev-parse", "HEAD")

    run_id = run_pipeline(cli, repo)

    events = run_events(store, run_id)
    manifest = registry.manifest_digest(pushed_name, "1.0.0")
    image = docker_client.images.get(f"{name}:1.0.0")
    signed = one(events, ProvenanceSigned)
    # Signed after the last step (the push) ended and before the outcome.
    assert index_of(events, ProvenanceSigned) == index_of(events, StepFinished, step="push") + 1
    assert events[-1].type_name == "RunSucceeded"
    assert (signed.step, signed.image_digest, signed.subject_digests) == (
        "build",
        image.id,
        (manifest,),
    )
    projector(store).catch_up_all()
    with TestClient(create_app(settings), headers=bearer(store, "admin", Role.ADMIN)) as client:
        by_manifest = client.get(f"/api/images/{manifest}/provenance")
        by_id = client.get(f"/api/images/{image.id}/provenance")
        envelope = client.get(f"/api/images/{manifest}/attestation")
    assert by_manifest.status_code == 200, by_manifest.text
    assert by_id.content == by_manifest.content
    statement = by_manifest.json()
    jsonschema.validate(statement, SCHEMA)

    assert statement["subject"] == [
        {"name": push_repository, "digest": {"sha256": hex_of(manifest)}}
    ]
    build = statement["predicate"]["buildDefinition"]
    assert build["externalParameters"] == {
        "repository": one(events, RunQueued).repository,
        "ref": "refs/heads/main",
        "pipeline": ".shiplog.yml",
        "step": "build",
        "dirty": False,
    }
    deps = build["resolvedDependencies"]
    by_name = {dep["name"]: dep for dep in deps}
    assert by_name["source"]["digest"] == {"gitCommit": commit}
    dockerfile = (repo / "Dockerfile").read_bytes()
    assert by_name["dockerfile"]["digest"] == {"sha256": hashlib.sha256(dockerfile).hexdigest()}
    pipeline = (repo / ".shiplog.yml").read_bytes()
    assert by_name["pipeline"]["digest"] == {"sha256": hashlib.sha256(pipeline).hexdigest()}
    assert by_name["context"]["digest"] == {
        "sha256": hex_of(one(events, ImageBuilt).context_digest)
    }
    busybox = docker_client.images.get(BUSYBOX)
    base_digest = next(
        (d.split("@")[1] for d in busybox.attrs.get("RepoDigests") or [] if d.startswith(BUSYBOX)),
        busybox_image,
    )
    assert [d for d in deps if d["name"] == "base-image"] == [
        {
            "name": "base-image",
            "digest": {"sha256": hex_of(base_digest)},
            "annotations": {"reference": BUSYBOX},
        }
    ]
    details = statement["predicate"]["runDetails"]
    assert details["builder"]["id"] == "urn:shiplog:runner:" + one(events, RunClaimed).runner
    assert details["metadata"]["invocationId"] == run_id
    logs = {
        b["name"]: b["digest"]["sha256"] for b in details["byproducts"] if b["name"][:4] == "log/"
    }
    assert logs == {
        f"log/{f.step}": log_digest(database.app_url, run_id, f.step).sha256
        for f in of_type(events, StepFinished)
    }
    assert set(logs) == {"log/build", "log/test", "log/push"}
    reports = [b for b in details["byproducts"] if b["name"] == "test-report/test"]
    assert reports[0]["digest"] == {"sha256": hashlib.sha256(REPORT.encode()).hexdigest()}

    # The stored envelope: named by its digest, holding exactly the statement served.
    assert envelope.status_code == 200, envelope.text
    assert envelope_digest(envelope.content) == signed.envelope_digest
    assert base64.b64decode(json.loads(envelope.content)["payload"]) == by_manifest.content
    envelope_file, key_file = tmp_path / "prov.json", tmp_path / "attestation.pub"
    envelope_file.write_bytes(envelope.content)
    pubkey = cli.invoke(app, ["attest", "pubkey"])
    key_file.write_text(pubkey.stdout)
    checked = cli.invoke(
        app, ["attest", "verify", str(envelope_file), "--key", str(key_file), "--digest", manifest]
    )
    assert checked.exit_code == 0, checked.output
    assert f"signed by key {signed.key_id}" in checked.stdout
    assert signed.key_id in pubkey.stderr


def test_an_unpushed_image_of_a_failed_run_is_signed_with_its_image_id_and_no_step_sees_the_key(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    settings: Settings,
    docker_client: Any,
    busybox_image: str,
    tmp_path: Path,
) -> None:
    tag = unique_name("shiplog-test/prov-local") + ":1"
    build = f'  - name: build\n    build:\n      context: .\n      tags: ["{tag}"]\n'
    look = (
        f"  - name: look\n    image: {tag}\n    depends_on: [build]\n    commands:\n"
        "      - find / -name 'attestation.*' 2>/dev/null; echo searched\n"
        "      - exit 3\n"
    )
    repo = hello_app(tmp_path / "local", commands_pipeline(build, look, name="local"))

    result = cli.invoke(app, ["run", str(repo)])

    assert result.exit_code != 0, result.output
    run_id = run_id_in(result.output)
    events = run_events(store, run_id)
    assert events[-1].type_name == "RunFailed"
    image_id = docker_client.images.get(tag).id
    signed = one(events, ProvenanceSigned)
    assert (
        index_of(events, ProvenanceSigned) == len(events) - 2
    )  # after the steps, before RunFailed
    assert signed.subject_digests == (image_id,)
    projector(store).catch_up_all()
    statement = provenance(store, image_id)
    assert statement["subject"] == [{"name": tag, "digest": {"sha256": hex_of(image_id)}}]
    # The key exists on the runner's side, and the step searched the whole container for it.
    assert (settings.key_dir / "attestation.key").exists()
    lines = [line.text for line in read_log(database.app_url, run_id, "look")]
    assert "searched" in lines
    assert not [line for line in lines if "attestation." in line and not line.startswith("+ ")]
