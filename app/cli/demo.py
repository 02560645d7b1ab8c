"""`shiplog demo`: fill every page with real work, deliver it, then seal and verify the ledger.

The demo copies examples/hello into a fresh git repository under SHIPLOG_HOME, starts
a loopback registry on 127.0.0.1:5055 (the address the example pushes to), builds the
base image locally (no registry access is needed), makes the engine a one-node swarm
if it is not in one, and writes the example's environments (staging, then production
behind a canary) as SHIPLOG_HOME/environments.yml. Then, twice (version 1.0.0, then a
second commit with 1.1.0):

1. it runs the pipeline exactly as `shiplog run` does: build, test inside the image,
   push, scan against the advisory set in examples/advisories, and a deploy step
   delivering the pushed digest to staging (rolling);
2. it promotes what staging runs to production as demo@shiplog.local, which waits for
   an approval, and approves it as release-manager@shiplog.local; the first version
   goes live at once, the second as a canary (20, 50, 100 %) whose analysis reads the
   proxy's error rate while the demo sends it traffic.

Then it rebuilds the last image from its recorded inputs (a reproduction), seals the
ledger into a signed checkpoint and verifies it. The services stay on the swarm
(shiplog-demo-*); production answers on http://127.0.0.1:8081/. Each stage is a
function of its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docker.errors
import typer

from app.cli.run_commands import print_event, print_log
from app.config import Settings
from app.context import Context, open_store, prepare
from app.delivery.desk import Desk
from app.delivery.rollout import Progress
from app.engine import LocalRegistry, RegistryError, connect, ensure_busybox_image
from app.executor.execution import Observers
from app.executor.local import run_here
from app.keys import load_or_create_signing_key
from app.resources import example_dir
from app.services.delivery import DeskFactory, approve_and_drive, desk_factory, promote
from app.services.reproductions import reproduce, subjects
from app.services.runs import queue_checkout
from events.catalogue import Metadata
from events.errors import LedgerError
from events.sealer import seal_all
from events.store import EventStore
from events.verifications import record_verification
from events.verify import verify_ledger
from events.vocabulary import AnalysisMeasured, CanaryPromoted, CanaryStepStarted

REGISTRY_PORT = 5055  # examples/hello/.shiplog.yml pushes to 127.0.0.1:5055
PRODUCTION_URL = "http://127.0.0.1:8081/"  # examples/hello/environments.yml
DEMO_ACTOR = "demo@shiplog.local"
APPROVER = "release-manager@shiplog.local"
MARK = "# written by shiplog demo"  # the first line of the environments file it writes
VERSIONS = ("1.0.0", "1.1.0")
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class DemoError(LedgerError):
    """The demo cannot run here, and why."""


def register(app: typer.Typer) -> None:
    """Add `shiplog demo` to `app`."""
    app.command("demo")(demo)


def _commit(checkout: Path, message: str, when: datetime) -> None:
    """Commit everything in `checkout` as the demo, at `when`."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "shiplog demo",
        "GIT_AUTHOR_EMAIL": "demo@shiplog.local",
        "GIT_COMMITTER_NAME": "shiplog demo",
        "GIT_COMMITTER_EMAIL": "demo@shiplog.local",
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
    }
    for command in (
        ["git", "add", "--all"],
        ["git", "commit", "--quiet", "--no-gpg-sign", "-m", message],
    ):
        subprocess.run(command, cwd=checkout, env=env, check=True, capture_output=True)


def example_checkout(home: Path, when: datetime) -> Path:
    """A fresh git repository holding examples/hello, committed at `when`."""
    checkout = home / "demo" / "hello"
    shutil.rmtree(checkout, ignore_errors=True)
    shutil.copytree(example_dir("hello"), checkout)
    (checkout / "environments.yml").unlink()  # the demo's settings, not the application's
    subprocess.run(
        ["git", "init", "--quiet", "--initial-branch=main"],
        cwd=checkout,
        check=True,
        capture_output=True,
    )
    _commit(checkout, "hello, delivered by shiplog", when)
    return checkout


def next_version(checkout: Path, old: str, new: str, when: datetime) -> None:
    """A second commit: the pipeline builds and pushes version `new`."""
    pipeline = checkout / ".shiplog.yml"
    pipeline.write_text(pipeline.read_text().replace(old, new))
    _commit(checkout, f"hello {new}", when)


def ensure_swarm(client: Any) -> None:
    """Make the engine a one-node swarm manager, unless it is in a swarm already."""
    state = client.info().get("Swarm", {})
    if state.get("LocalNodeState") != "active":
        try:
            client.swarm.init(advertise_addr="127.0.0.1")
        except docker.errors.APIError as error:
            raise DemoError(f"cannot make the engine a one-node swarm: {error}") from None
        typer.echo("the engine is now a one-node swarm (docker swarm init)")
    elif not state.get("ControlAvailable"):
        raise DemoError("the engine is in a swarm but not a manager of it; deploy needs one")


def install_environments(settings: Settings) -> None:
    """The example's environments as the environments file, unless one of yours is there."""
    path = settings.environments_path
    if path.exists() and not path.read_text().startswith(MARK):
        raise DemoError(
            f"{path} is not the demo's: run the demo with another SHIPLOG_HOME, or move it"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(example_dir("hello") / "environments.yml", path)


@contextlib.contextmanager
def traffic(url: str) -> Iterator[None]:
    """Requests to `url` every 20 ms while the block runs: a canary's analysis needs traffic."""
    stop = threading.Event()

    def send() -> None:
        while not stop.wait(0.02):
            with contextlib.suppress(OSError), _opener.open(url, timeout=5) as answer:
                answer.read()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def show_progress(progress: Progress) -> None:
    """One line for where a deployment stands."""
    request = progress.request
    waits = "; ".join(w.reason for w in progress.waits)
    line = f"  {request.service} -> {request.image_digest[:19]}: {request.status}"
    typer.echo(line + (f" (waiting for {waits})" if waits else ""))


def release_to_production(desk: Desk, store: EventStore) -> Progress:
    """Promote staging's digest to production as the demo, approve it as the release manager."""
    typer.echo(f"promoting hello from staging to production as {DEMO_ACTOR}")
    asked = promote(desk, "hello", "staging", "production", DEMO_ACTOR, wait=False)
    show_progress(asked)
    typer.echo(f"approving it as {APPROVER}; production gets traffic meanwhile")
    with traffic(PRODUCTION_URL):
        done = approve_and_drive(
            desk, "production", asked.request.deployment_id, APPROVER, comment="demo approval"
        )
    for event in store.read_stream("env-production"):
        if event.metadata.correlation_id != asked.request.deployment_id:
            continue
        data = event.data
        if isinstance(data, CanaryStepStarted):
            typer.echo(f"  canary step {data.step}: {data.weight}% of the traffic")
        elif isinstance(data, AnalysisMeasured):
            verdict = "passed" if data.passed else "failed: " + "; ".join(data.reasons)
            typer.echo(
                f"    analysis: {data.requests} requests, {data.errors} errors, "
                f"{data.latency_ms} ms mean: {verdict}"
            )
        elif isinstance(data, CanaryPromoted):
            typer.echo(f"  canary promoted after {data.steps} steps")
    show_progress(done)
    if done.request.status != "succeeded":
        raise DemoError(
            f"production did not take {done.request.image_digest}: {done.request.reason}"
        )
    return done


def deliver_versions(
    settings: Settings, store: EventStore, desks: DeskFactory, app_url: str
) -> str:
    """Run the pipeline for each version, each time releasing to production; the last run."""
    now = datetime.now(UTC)
    checkout = example_checkout(settings.home, now - timedelta(hours=2))
    actor = Metadata(actor=DEMO_ACTOR, source="demo")
    run_id = ""
    for number, version in enumerate(VERSIONS):
        if number:
            next_version(checkout, VERSIONS[number - 1], version, now - timedelta(hours=1))
        run_id, queued = queue_checkout(
            store, app_url, checkout, pipeline=".shiplog.yml", actor=actor
        )
        typer.echo(f"queued run {run_id} of {checkout} at {queued.commit[:12]} ({version})")
        state = run_here(
            settings,
            store,
            app_url,
            run_id,
            queued,
            Observers(on_event=print_event, on_log=print_log),
            desks,
        )
        if state is None or state.status != "succeeded":
            raise DemoError(f"the demo run did not succeed: {state}")
        typer.echo(f"run {run_id} succeeded and delivered {version} to staging")
        release_to_production(desks(), store)
    return run_id


def demo() -> None:
    """Build, test, push, scan and deliver the example (staging, then a canary), then more."""
    context = prepare()
    client = connect()
    ensure_busybox_image(client)
    ensure_swarm(client)
    settings = demo_settings(context.settings)
    install_environments(settings)
    app_url = context.database.app_url
    try:
        registry = LocalRegistry(port=REGISTRY_PORT).start()
    except RegistryError as error:
        raise DemoError(
            f"cannot start the demo registry on 127.0.0.1:{REGISTRY_PORT}: {error}"
        ) from None
    try:
        with open_store(context) as store, desk_factory(settings, store, app_url) as desks:
            run_id = deliver_versions(settings, store, desks, app_url)
            digest = registry.manifest_digest("shiplog-demo/hello", VERSIONS[-1])
            typer.echo(f"the registry holds hello:{VERSIONS[-1]} as {digest}")
            reproduce_build(settings, store, client, run_id)
    finally:
        registry.stop()
        client.close()
    seal_and_verify(context)
    typer.echo(f"production answers on {PRODUCTION_URL}; shiplog environment production")
    typer.echo(f"the last run's events: shiplog events tail --stream run-{run_id}")
    typer.echo("production's decisions: shiplog events tail --stream env-production")
    typer.echo(
        "the image's signed provenance: shiplog projections catch-up && "
        f"shiplog attest get {digest} -o prov.json && "
        "shiplog attest pubkey > attestation.pub && "
        f"shiplog attest verify prov.json --key attestation.pub --digest {digest}"
    )


def demo_settings(settings: Settings) -> Settings:
    """The settings the demo's runs use: scans match the advisory set the demo ships."""
    return settings.model_copy(update={"osv_dir": example_dir("advisories")})


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
