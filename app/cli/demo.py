"""`shiplog demo`: fill every page with real work, then seal and verify the ledger.

The demo copies examples/hello into a fresh git repository under SHIPLOG_HOME,
starts a loopback registry on 127.0.0.1:5055 (the address the example pushes to),
builds the base image locally (no registry access is needed), and runs the
pipeline (build, test inside the built image, push, scan against the advisory set
in examples/advisories) exactly as `shiplog run` does. Then it rebuilds the image
from its recorded inputs (a reproduction), seals the ledger into a signed
checkpoint and verifies it. Each stage is a function of its own, so later stages
(delivery) slot in between without touching the others.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import typer

from app.cli.run_commands import print_event, print_log
from app.config import Settings
from app.context import Context, open_store, prepare
from app.engine import LocalRegistry, RegistryError, connect, ensure_busybox_image
from app.executor.execution import Observers
from app.executor.local import run_here
from app.keys import load_or_create_signing_key
from app.resources import example_dir
from app.services.reproductions import reproduce, subjects
from app.services.runs import queue_checkout
from events.catalogue import Metadata
from events.errors import LedgerError
from events.sealer import seal_all
from events.store import EventStore
from events.verifications import record_verification
from events.verify import verify_ledger

REGISTRY_PORT = 5055  # examples/hello/.shiplog.yml pushes to 127.0.0.1:5055
DEMO_ACTOR = "demo@shiplog.local"
# Fixed commit metadata: every demo checkout has the same commit, so its build
# inputs (and the OCI `created` label, which is the commit time) are the same.
COMMIT_ENV = {
    "GIT_AUTHOR_NAME": "shiplog demo",
    "GIT_AUTHOR_EMAIL": "demo@shiplog.local",
    "GIT_COMMITTER_NAME": "shiplog demo",
    "GIT_COMMITTER_EMAIL": "demo@shiplog.local",
    "GIT_AUTHOR_DATE": "2026-01-01T12:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T12:00:00Z",
}


class DemoError(LedgerError):
    """The demo cannot run here, and why."""


def register(app: typer.Typer) -> None:
    """Add `shiplog demo` to `app`."""
    app.command("demo")(demo)


def example_checkout(home: Path) -> Path:
    """A fresh git repository holding examples/hello at one fixed commit."""
    checkout = home / "demo" / "hello"
    shutil.rmtree(checkout, ignore_errors=True)
    shutil.copytree(example_dir("hello"), checkout)
    env = {**os.environ, **COMMIT_ENV}
    for command in (
        ["git", "init", "--quiet", "--initial-branch=main"],
        ["git", "add", "--all"],
        ["git", "commit", "--quiet", "--no-gpg-sign", "-m", "hello, delivered by shiplog"],
    ):
        subprocess.run(command, cwd=checkout, env=env, check=True, capture_output=True)
    return checkout


def demo() -> None:
    """Run the sample pipeline (build, test, push, scan), rebuild its image, seal and verify."""
    context = prepare()
    client = connect()
    ensure_busybox_image(client)
    checkout = example_checkout(context.settings.home)
    actor = Metadata(actor=DEMO_ACTOR, source="demo")
    try:
        registry = LocalRegistry(port=REGISTRY_PORT).start()
    except RegistryError as error:
        raise DemoError(
            f"cannot start the demo registry on 127.0.0.1:{REGISTRY_PORT}: {error}"
        ) from None
    try:
        with open_store(context) as store:
            run_id = run_pipeline(context, store, checkout, actor)
            digest = registry.manifest_digest("shiplog-demo/hello", "1.0.0")
            typer.echo(f"run {run_id} succeeded; the registry holds hello:1.0.0 as {digest}")
            reproduce_build(context.settings, store, client, run_id)
    finally:
        registry.stop()
        client.close()
    seal_and_verify(context)
    typer.echo(f"the run's events: shiplog events tail --stream run-{run_id}")
    typer.echo(
        "the image's signed provenance: shiplog projections catch-up && "
        f"shiplog attest get {digest} -o prov.json && "
        "shiplog attest pubkey > attestation.pub && "
        f"shiplog attest verify prov.json --key attestation.pub --digest {digest}"
    )


def demo_settings(settings: Settings) -> Settings:
    """The settings the demo's run uses: scans match the advisory set the demo ships."""
    return settings.model_copy(update={"osv_dir": example_dir("advisories")})


def run_pipeline(context: Context, store: EventStore, checkout: Path, actor: Metadata) -> str:
    """Queue the example's pipeline and run it here: build, test, push, scan. Its run id."""
    run_id, queued = queue_checkout(
        store, context.database.app_url, checkout, pipeline=".shiplog.yml", actor=actor
    )
    typer.echo(f"queued run {run_id} of {checkout} at {queued.commit[:12]}")
    state = run_here(
        demo_settings(context.settings),
        store,
        context.database.app_url,
        run_id,
        queued,
        Observers(on_event=print_event, on_log=print_log),
    )
    if state is None or state.status != "succeeded":
        raise DemoError(f"the demo run did not succeed: {state}")
    return run_id


def reproduce_build(settings: Settings, store: EventStore, client: Any, run_id: str) -> None:
    """Rebuild the run's image from its recorded inputs and record the verdict."""
    for subject in subjects(store, client, run_id):
        done = reproduce(
            store, client, settings.work_dir, subject, DEMO_ACTOR, source="demo"
        ).completed
        reason = f": {done.reason}" if done.reason else ""
        typer.echo(f"reproduced {done.image_id}: {done.verdict}{reason}")


def seal_and_verify(context: Context) -> None:
    """Seal the ledger into a signed checkpoint, verify it and record the verdict."""
    signer = load_or_create_signing_key(context.settings)
    checkpoint = seal_all(context.database.app_url, signer)
    if checkpoint is not None:
        typer.echo(f"sealed: tree size {checkpoint.tree_size}, root {checkpoint.root.hex()}")
    report = verify_ledger(context.database.app_url, signer.verifier())
    record_verification(context.database.app_url, report, DEMO_ACTOR)
    typer.echo(f"verify: {report.summary()}")
    if not report.ok:
        raise typer.Exit(1)
