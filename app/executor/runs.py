"""The executor's side of a run in the ledger: claim, record, fail as lost, and read it back.

A run is the stream `run-<uuid>`. The stream is also the lock: a runner claims
a queued run by appending RunClaimed at expected version 0, so of any number of
runners racing for it exactly one succeeds and the others get
WrongExpectedVersion. From then on only the claiming runner appends to the
stream, always at the version it wrote last; anyone else who appends (a cancel,
a reaper declaring the runner lost) moves the stream, and the runner's next
append fails. That failure is how a runner learns that its run was taken from
it, and it stops instead of writing over the outcome. Queueing and cancelling a
run are commands of the application layer (app/services/runs.py).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from app.steplogs import stored_digest
from events.catalogue import Event, Metadata
from events.errors import LedgerError, WrongExpectedVersion
from events.store import EventStore, RecordedEvent
from events.vocabulary import (
    RunCancelled,
    RunClaimed,
    RunFailed,
    RunQueued,
    RunSucceeded,
    StepFinished,
    StepSkipped,
    StepStarted,
)

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL_TYPES = (RunSucceeded.type_name, RunFailed.type_name, RunCancelled.type_name)
RUNNER_LOST = "runner-lost"
"""RunFailed's reason for a run whose runner stopped heartbeating."""
STEP_RUNNER_LOST = "runner lost"
"""StepFinished's reason for a step its runner left open when it was lost."""


def run_stream(run_id: str) -> str:
    """The stream name of a run."""
    return f"run-{run_id}"


@dataclass(frozen=True)
class RunState:
    """What the ledger says of one run."""

    run_id: str
    status: RunStatus
    version: int
    queued: RunQueued | None = None
    runner: str | None = None
    reason: str | None = None
    open_steps: tuple[str, ...] = ()
    """Steps started and not yet finished, in the order they started."""

    @property
    def finished(self) -> bool:
        """True once the run succeeded, failed or was cancelled."""
        return self.status in ("succeeded", "failed", "cancelled")


def fold_run(run_id: str, events: Iterable[RecordedEvent]) -> RunState:
    """Fold a run's events, in stream order, into its state (a pure function)."""
    state = RunState(run_id=run_id, status="queued", version=-1)
    for recorded in events:
        event = recorded.data
        changes: dict[str, object] = {"version": recorded.version}
        if isinstance(event, RunQueued):
            changes["queued"] = event
        elif isinstance(event, RunClaimed):
            changes |= {"status": "running", "runner": event.runner}
        elif isinstance(event, RunSucceeded):
            changes["status"] = "succeeded"
        elif isinstance(event, RunFailed):
            changes |= {"status": "failed", "reason": event.reason}
        elif isinstance(event, RunCancelled):
            changes |= {"status": "cancelled", "reason": event.reason}
        elif isinstance(event, StepStarted):
            changes["open_steps"] = (*state.open_steps, event.step)
        elif isinstance(event, StepFinished | StepSkipped):
            changes["open_steps"] = tuple(s for s in state.open_steps if s != event.step)
        state = replace(state, **changes)  # type: ignore[arg-type]
    return state


class RunNotFound(LedgerError):
    """No run has this id."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run {run_id!r} in the ledger")


class RunInterrupted(Exception):
    """Someone else moved the run's stream (cancelled it, or declared its runner lost)."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        super().__init__(f"run {state.run_id} was {state.status} ({state.reason or 'no reason'})")


class RunRecorder:
    """Appends one run's events at the version last written, serialised across step threads."""

    def __init__(self, store: EventStore, state: RunState, metadata: Metadata) -> None:
        self._store = store
        self._lock = threading.Lock()
        self.run_id = state.run_id
        self.version = state.version
        self.metadata = metadata

    def record(self, *events: Event) -> None:
        """Append events to the run, or raise RunInterrupted if the run was taken over."""
        with self._lock:
            try:
                self._store.append(run_stream(self.run_id), events, self.version, self.metadata)
            except WrongExpectedVersion:
                raise RunInterrupted(RunLedger(self._store).state(self.run_id)) from None
            self.version += len(events)


class RunLedger:
    """Read a run's state; claim a queued run, or fail a lost one, with the runner as actor."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def claim(self, run_id: str, claimed: RunClaimed, metadata: Metadata) -> RunRecorder | None:
        """Claim a queued run for a runner; None when another runner (or a cancel) was first."""
        correlated = metadata.model_copy(update={"correlation_id": run_id})
        try:
            self.store.append(run_stream(run_id), [claimed], 0, correlated)
        except WrongExpectedVersion:
            return None
        state = RunState(run_id=run_id, status="running", version=1, runner=claimed.runner)
        return RunRecorder(self.store, state, correlated)

    def state(self, run_id: str) -> RunState:
        """The run as the ledger has it now."""
        events = self.store.read_stream(run_stream(_checked_id(run_id)))
        if not events:
            raise RunNotFound(run_id)
        return fold_run(run_id, events)

    def fail_lost(self, run_id: str, metadata: Metadata, *, expected: RunState) -> bool:
        """Fail a run whose runner is gone, unless it moved since `expected` was read.

        Each step it left open is closed first, in the same append: exit code and
        duration unknown, reason `runner lost`, and its log sealed as stored (the
        runner that wrote it is gone). RunFailed names the first of them.
        """
        correlated = metadata.model_copy(update={"correlation_id": run_id})
        closing = [self._closed_by_reaper(run_id, step) for step in expected.open_steps]
        failed = RunFailed(reason=RUNNER_LOST, step=next(iter(expected.open_steps), None))
        try:
            self.store.append(run_stream(run_id), [*closing, failed], expected.version, correlated)
        except WrongExpectedVersion:
            return False
        return True

    def _closed_by_reaper(self, run_id: str, step: str) -> StepFinished:
        with self.store.connection() as conn:
            digest = stored_digest(conn, run_id, step)
        return StepFinished(
            step=step,
            exit_code=None,
            duration_ms=None,
            log_sha256=digest.sha256,
            log_lines=digest.lines,
            reason=STEP_RUNNER_LOST,
        )


def _checked_id(run_id: str) -> str:
    """A run id must be a UUID; say so instead of looking up nonsense."""
    try:
        return str(uuid.UUID(run_id))
    except ValueError:
        raise RunNotFound(run_id) from None
