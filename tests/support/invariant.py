"""The invariant every ended run holds, whatever ended it: checked after every fault test.

Whatever ends a run (success, failure, cancel, time-out, runner lost, engine restarted,
database restarted):

- its stream ends with exactly one outcome (RunSucceeded, RunFailed or RunCancelled);
- every StepStarted has exactly one StepFinished or StepSkipped after it and before
  the outcome, and that event carries why the step ended (an exit code, or a reason);
- nothing labelled with the run stays on any engine given;
- the CLI, if its output is given, printed no traceback, and its last line says how
  the run ended in one line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from events.store import EventStore, RecordedEvent
from events.vocabulary import (
    RunCancelled,
    RunFailed,
    RunSucceeded,
    StepFinished,
    StepSkipped,
    StepStarted,
)
from tests.support.runs import leftovers, run_events

OUTCOMES = (RunSucceeded, RunFailed, RunCancelled)
TRACEBACK = "Traceback (most recent call last)"


def step_closings(events: list[RecordedEvent]) -> dict[str, list[RecordedEvent]]:
    """Per step, the StepFinished and StepSkipped events that closed it, in order."""
    found: dict[str, list[RecordedEvent]] = {}
    for event in events:
        if isinstance(event.data, StepFinished | StepSkipped):
            found.setdefault(event.data.step, []).append(event)
    return found


def assert_run_closed(
    store: EventStore,
    run_id: str,
    *,
    engines: Iterable[Any] = (),
    cli_output: str | None = None,
) -> list[RecordedEvent]:
    """Check the invariant for one ended run (see the module docstring); return its events."""
    events = run_events(store, run_id)
    names = [event.type_name for event in events]
    outcomes = [i for i, event in enumerate(events) if isinstance(event.data, OUTCOMES)]
    assert len(outcomes) == 1, f"run {run_id}: expected one outcome, got {names}"
    assert outcomes[0] == len(events) - 1, f"run {run_id}: events after its outcome: {names}"
    closings = step_closings(events)
    started = [event for event in events if isinstance(event.data, StepStarted)]
    assert len({e.data.step for e in started}) == len(started), f"a step started twice: {names}"
    for start in started:
        step = start.data.step  # type: ignore[attr-defined]
        closed = closings.get(step, [])
        assert len(closed) == 1, f"run {run_id}: step {step!r} closed {len(closed)} times: {names}"
        (closing,) = closed
        assert start.version < closing.version < events[-1].version, (
            f"run {run_id}: step {step!r} closed out of order: {names}"
        )
        data = closing.data
        if isinstance(data, StepFinished):
            assert data.exit_code is not None or data.reason, (
                f"run {run_id}: StepFinished of {step!r} says neither exit code nor reason"
            )
        else:
            assert isinstance(data, StepSkipped) and data.reason
    for engine in engines:
        left = leftovers(engine, run_id)
        assert left == [], f"run {run_id} left objects on an engine: {left}"
    if cli_output is not None:
        assert TRACEBACK not in cli_output, f"the CLI printed a traceback:\n{cli_output}"
        last = cli_output.strip().splitlines()[-1]
        assert run_id in last or last.startswith("shiplog: "), (
            f"the CLI's last line does not say how run {run_id} ended: {last!r}"
        )
    return events
