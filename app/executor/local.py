"""A run executed in this process, as `shiplog run` (and the demo) do after queueing it."""

from __future__ import annotations

from collections.abc import Callable

from app.config import Settings
from app.delivery.desk import Desk
from app.engine import connect
from app.executor.execution import Observers
from app.executor.runner import Runner, default_runner_name
from app.executor.runs import RunLedger, RunState
from events.store import EventStore
from events.vocabulary import RunQueued


def run_here(
    settings: Settings,
    store: EventStore,
    app_url: str,
    run_id: str,
    queued: RunQueued,
    observers: Observers,
    desks: Callable[[], Desk] | None = None,
) -> RunState | None:
    """Claim a queued run for this process and execute it; None if a runner claimed it first.

    `desks` makes the desk deploy steps decide with (None: the run cannot deploy).
    """
    local = Runner(
        settings=settings,
        store=store,
        app_url=app_url,
        client=connect(),
        name=f"{default_runner_name(settings)}:cli",
        observers=observers,
        desks=desks,
    )
    ledger = RunLedger(store)
    recorder = ledger.claim(run_id, local.claimed_event(), local.metadata)
    if recorder is None:
        return None
    with local.beating():
        local.execute_claimed(recorder, queued)
    return ledger.state(run_id)
