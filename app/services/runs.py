"""Run commands: queue a run (of a local checkout, or as given) and cancel one, as an actor.

A run is the stream `run-<uuid>`; RunQueued opens it at version 0. Claiming and
executing it is the executor's (app/executor), and so is everything the runner
records. A cancel appends RunCancelled at the version it read: if the runner
wrote meanwhile it reads again, and the runner's next append fails, which is how
the runner learns to stop.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from app.executor.grants import SandboxGrants
from app.executor.runs import RunLedger, RunState, run_stream
from app.executor.secrets import SecretStore
from app.executor.source import inspect_checkout
from app.pipeline import parse_pipeline, pipeline_digest
from events.catalogue import Metadata
from events.errors import LedgerError, WrongExpectedVersion
from events.store import NO_STREAM, EventStore
from events.vocabulary import RunCancelled, RunQueued, StepFinished

CANCEL_ATTEMPTS = 10
"""How often a cancel reads the run again when its runner keeps writing meanwhile."""
CANCELLED = "cancelled"
"""StepFinished's reason for a step a cancel closed."""


class DirtyCheckout(LedgerError):
    """The checkout has uncommitted changes and --allow-dirty was not given."""


class MissingPipeline(LedgerError):
    """The checkout has no pipeline file where one was expected."""


class RunFinished(LedgerError):
    """The run already ended, so it cannot be changed any more."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        super().__init__(f"run {state.run_id} already {state.status}")


def queue_run(
    store: EventStore, queued: RunQueued, actor: Metadata, run_id: str | None = None
) -> str:
    """Record a new run as `actor`; return its id."""
    run_id = run_id or str(uuid.uuid4())
    correlated = actor.model_copy(update={"correlation_id": run_id})
    store.append(run_stream(run_id), [queued], NO_STREAM, correlated)
    return run_id


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
    parse_pipeline(
        text.decode("utf-8"),
        pipeline,
        known_secrets=SecretStore(app_url).names_for(facts.repository, facts.branch),
        allowed_privileges=SandboxGrants(app_url).granted(facts.repository),
    )
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
    return queue_run(store, queued, actor), queued


def cancel_run(
    store: EventStore, run_id: str, actor: Metadata, reason: str | None = None
) -> RunState:
    """Record RunCancelled for an unfinished run as `actor`; its runner stops its containers.

    Each step still open is closed in the same append, before RunCancelled: reason
    `cancelled`, exit code and duration unknown, and its log not sealed, since its
    runner may still be writing the last lines while it stops the container.
    """
    ledger = RunLedger(store)
    correlated = actor.model_copy(update={"correlation_id": run_id})
    for _ in range(CANCEL_ATTEMPTS):
        state = ledger.state(run_id)
        if state.finished:
            raise RunFinished(state)
        closing = [
            StepFinished(
                step=step,
                exit_code=None,
                duration_ms=None,
                log_sha256=None,
                log_lines=None,
                reason=CANCELLED,
            )
            for step in state.open_steps
        ]
        try:
            store.append(
                run_stream(run_id),
                [*closing, RunCancelled(reason=reason)],
                state.version,
                correlated,
            )
        except WrongExpectedVersion:
            continue  # the runner wrote meanwhile; look again
        return ledger.state(run_id)
    raise LedgerError(f"run {run_id}: could not cancel, the run keeps moving; try again")
