"""Runs of a local checkout: what `shiplog run` (and the demo) do, as plain functions."""

from __future__ import annotations

from pathlib import Path

from app.config import Settings
from app.engine import connect
from app.executor.execution import Observers
from app.executor.runner import Runner, default_runner_name
from app.executor.runs import RunService, RunState
from app.executor.secrets import SecretStore
from app.executor.source import inspect_checkout
from app.pipeline import parse_pipeline, pipeline_digest
from events.catalogue import Metadata
from events.errors import LedgerError
from events.store import EventStore
from events.vocabulary import RunQueued


class DirtyCheckout(LedgerError):
    """The checkout has uncommitted changes and --allow-dirty was not given."""


class MissingPipeline(LedgerError):
    """The checkout has no pipeline file where one was expected."""


def queue_checkout(
    store: EventStore,
    app_url: str,
    directory: Path,
    *,
    pipeline: str,
    actor: Metadata,
    allow_dirty: bool = False,
    detach: bool = False,
) -> tuple[str, RunQueued]:
    """Check a checkout and its pipeline, then record RunQueued; nothing is queued on error."""
    facts = inspect_checkout(directory)
    if facts.dirty and not allow_dirty:
        raise DirtyCheckout(
            f"{facts.root} has uncommitted changes: commit them, or pass --allow-dirty "
            "(the run is then recorded as dirty)"
        )
    if detach and facts.dirty:
        raise DirtyCheckout("a dirty checkout can only run here, not be left to runners")
    path = facts.root / pipeline
    if not path.is_file():
        raise MissingPipeline(f"no pipeline file {pipeline} in {facts.root}")
    text = path.read_bytes()
    parse_pipeline(text.decode("utf-8"), pipeline, known_secrets=SecretStore(app_url).names())
    queued = RunQueued(
        repository=facts.repository,
        commit=facts.commit,
        ref=facts.ref,
        commit_time=facts.commit_time,
        trigger="manual",
        pipeline_path=pipeline,
        pipeline_digest=pipeline_digest(text),
        dirty=facts.dirty,
        checkout=str(facts.root),
    )
    return RunService(store).queue(queued, actor), queued


def run_here(
    settings: Settings,
    store: EventStore,
    app_url: str,
    run_id: str,
    queued: RunQueued,
    observers: Observers,
) -> RunState | None:
    """Claim a queued run for this process and execute it; None if a runner claimed it first."""
    local = Runner(
        settings=settings,
        store=store,
        app_url=app_url,
        client=connect(),
        name=f"{default_runner_name(settings)}:cli",
        observers=observers,
    )
    service = RunService(store)
    recorder = service.claim(run_id, local.claimed_event(), local.metadata)
    if recorder is None:
        return None
    with local.beating():
        local.execute_claimed(recorder, queued)
    return service.state(run_id)
