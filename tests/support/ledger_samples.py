"""Sample ledgers for the sealer, verify and proof tests, and a superuser's tampering tool."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from app.database import Database
from events.canonical import canonical_json, event_document
from events.merkle import leaf_hash
from events.signing import CheckpointSigner
from events.store import ANY, NO_STREAM, EventStore
from events.vocabulary import (
    BaseImage,
    Commit,
    CommitsPushed,
    DeploymentStarted,
    ImageBuilt,
    RunQueued,
    StepFinished,
    StepStarted,
)
from tests.support.factories import ALICE

SIGNER = CheckpointSigner.generate("shiplog")


def run_events(n: int) -> list[RunQueued | StepStarted | StepFinished | ImageBuilt]:
    """A run's worth of events with unicode, nested values and non-BMP label keys."""
    return [
        RunQueued(
            repository="https://git.example/acme/wébapp.git",
            commit=f"{n:040x}",
            ref="refs/heads/größe-✓",
            commit_time=datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC),
            trigger="cli",
            pipeline_path=".shiplog.yml",
            pipeline_digest="sha256:" + "c" * 64,
        ),
        StepStarted(step="build", image="busybox:stable", commands_digest="sha256:" + "a" * 64),
        ImageBuilt(
            step="build",
            image_id="sha256:" + f"{n:064x}",
            base_images=(BaseImage(name="debian:bookworm", digest="sha256:" + "d" * 64),),
            dockerfile_sha256="e" * 64,
            context_digest="sha256:" + "f" * 64,
            build_args={"VERSION": f"1.{n}", "NOTE": "naïve \u2028 line"},
            labels={"org.opencontainers.image.title": "wébapp 😀", "😀": "emoji key"},
            tags=("latest", f"v{n}"),
        ),
        StepFinished(
            step="build", exit_code=0, duration_ms=1000 + n, log_sha256="b" * 64, log_lines=n
        ),
    ]


def fill(store: EventStore, runs: int = 5) -> int:
    """Append several runs, a repository push and a deployment; return how many events."""
    count = 0
    for n in range(runs):
        count += len(store.append(f"run-{uuid.uuid4()}", run_events(n), NO_STREAM, ALICE))
    commits = tuple(
        Commit(sha=f"{i:040x}", authored_at=datetime.now(UTC) - timedelta(hours=i))
        for i in range(3)
    )
    push = CommitsPushed(repository="acme/web", ref="refs/heads/main", commits=commits)
    count += len(store.append("repo-acme.web", [push], ANY, ALICE))
    deploy = DeploymentStarted(
        deployment_id="d-1", service="web", image_digest="sha256:" + "0" * 64
    )
    count += len(store.append("env-production", [deploy], ANY, ALICE))
    return count


def superuser(database: Database, *statements: str, params: tuple[Any, ...] = ()) -> None:
    """Run statements as the owner with the immutability triggers switched off meanwhile."""
    with psycopg.connect(database.owner_url) as conn:
        for table in ("events", "ledger_leaves", "ledger_checkpoints"):
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_reject_update_delete")
        for statement in statements:
            conn.execute(statement, params if "%s" in statement else None)
        for table in ("events", "ledger_leaves", "ledger_checkpoints"):
            conn.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_reject_update_delete")


def nth_position(database: Database, n: int) -> int:
    """The position of the n-th event (0-based) in subscription order."""
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute(
            "SELECT position FROM events ORDER BY tx_id, position OFFSET %s LIMIT 1", (n,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def insert_as_stored(
    database: Database,
    stream: str,
    type_name: str,
    schema_version: int,
    data: dict[str, Any],
    metadata: dict[str, Any],
) -> None:
    """Insert an event at version 0 of `stream` as the store does (hash and all), bypassing
    the catalogue: a payload it would refuse today, or one of an older schema version."""
    event_id, recorded_at = uuid.uuid4(), datetime.now(UTC)
    document = event_document(
        stream=stream,
        version=0,
        event_id=event_id,
        type_name=type_name,
        schema_version=schema_version,
        data=data,
        metadata=metadata,
        recorded_at=recorded_at,
    )
    with psycopg.connect(database.app_url) as conn:
        conn.execute(
            "INSERT INTO events (stream, version, event_id, type, schema_version, data, metadata,"
            " recorded_at, hash) VALUES (%s, 0, %s, %s, %s, %s, %s, %s, %s)",
            (
                stream,
                event_id,
                type_name,
                schema_version,
                json.dumps(data),
                json.dumps(metadata),
                recorded_at,
                leaf_hash(canonical_json(document)),
            ),
        )
