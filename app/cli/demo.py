"""`shiplog demo`: record a sample delivery in the ledger, seal it, and verify it."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import psycopg
import typer

from app.context import open_store, prepare
from app.keys import load_or_create_signing_key
from events.catalogue import Event, Metadata
from events.sealer import seal_all
from events.store import ANY, NO_STREAM
from events.verify import verify_ledger
from events.vocabulary import (
    BaseImage,
    DeploymentStarted,
    DeploymentSucceeded,
    ImageBuilt,
    ImagePushed,
    RunClaimed,
    RunQueued,
    RunSucceeded,
    StepFinished,
    StepStarted,
    TestsReported,
)


def register(app: typer.Typer) -> None:
    """Add `shiplog demo` to `app`."""
    app.command("demo")(demo)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sample_run(commit: str) -> list[Event]:
    """The events of one sample run: build, test in the image, push."""
    image_id = "sha256:" + _sha(f"image {commit}")
    digest = "sha256:" + _sha(f"manifest {commit}")
    return [
        RunQueued(
            repository="https://git.example/acme/web.git",
            commit=commit,
            ref="refs/heads/main",
            commit_time=datetime.now(UTC),
            trigger="manual",
            pipeline_path=".shiplog.yml",
            pipeline_digest="sha256:" + _sha("pipeline"),
        ),
        RunClaimed(runner="demo-runner", runner_version="0.1.0", docker_version=None),
        StepStarted(step="build", image="docker", commands_digest="sha256:" + _sha("build")),
        ImageBuilt(
            step="build",
            image_id=image_id,
            base_images=(BaseImage(name="shiplog/busybox:1", digest="sha256:" + _sha("base")),),
            dockerfile_sha256=_sha("FROM shiplog/busybox:1"),
            context_digest="sha256:" + _sha("context"),
            build_args={"VERSION": "1.0.0"},
            labels={"org.opencontainers.image.revision": commit},
            tags=("acme/web:1.0.0",),
        ),
        StepFinished(
            step="build", exit_code=0, duration_ms=4210, log_sha256=_sha("log"), log_lines=42
        ),
        StepStarted(step="test", image="acme/web:1.0.0", commands_digest="sha256:" + _sha("t")),
        TestsReported(step="test", passed=12, failed=0, skipped=1, report_sha256=_sha("junit")),
        StepFinished(
            step="test", exit_code=0, duration_ms=1830, log_sha256=_sha("log2"), log_lines=17
        ),
        ImagePushed(step="push", repository="127.0.0.1:5000/acme/web", tag="1.0.0", digest=digest),
        RunSucceeded(duration_ms=7120),
    ]


def demo() -> None:
    """Record a sample run and deployment, seal the ledger, and verify it end to end."""
    context = prepare()
    actor = Metadata(actor="demo@shiplog.local", source="demo")
    run_id = str(uuid.uuid4())
    commit = _sha(run_id)[:40]
    with open_store(context) as store:
        events = sample_run(commit)
        metadata = actor.model_copy(update={"correlation_id": f"run-{run_id}"})
        positions = store.append(f"run-{run_id}", events, NO_STREAM, metadata)
        deployment = str(uuid.uuid4())
        pushed = events[-2]
        assert isinstance(pushed, ImagePushed)
        positions += store.append(
            "env-demo",
            [
                DeploymentStarted(
                    deployment_id=deployment,
                    service="web",
                    image_digest=pushed.digest,
                    run_id=run_id,
                ),
                DeploymentSucceeded(
                    deployment_id=deployment, service="web", image_digest=pushed.digest
                ),
            ],
            ANY,
            metadata,
        )
    typer.echo(f"recorded {len(positions)} events for run {run_id}")
    signer = load_or_create_signing_key(context.settings)
    checkpoint = seal_all(context.database.app_url, signer)
    if checkpoint is not None:
        typer.echo(f"sealed: tree size {checkpoint.tree_size}, root {checkpoint.root.hex()}")
    report = verify_ledger(context.database.app_url, signer.verifier())
    typer.echo(f"verify: {report.summary()}")
    if not report.ok:
        raise typer.Exit(1)
    with psycopg.connect(context.database.app_url) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    typer.echo(f"the ledger holds {row[0] if row else 0} events; the latest follow:")
