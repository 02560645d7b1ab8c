"""Running pipelines: `shiplog run`, `shiplog runner`, `shiplog cancel`, `shiplog logs`."""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from app.cli.ages import parse_age
from app.context import Context, open_store, owner_url_for, prepare
from app.engine import connect
from app.executor.execution import Observers
from app.executor.local import run_here
from app.executor.logs import expire_logs
from app.executor.runner import Runner, default_runner_name
from app.executor.runs import RunLedger, RunState
from app.pipeline import DEFAULT_SOURCE
from app.queries.logs import follow_log, log_digest, read_log
from app.services.delivery import desk_factory
from app.services.runs import cancel_run, queue_checkout
from events.catalogue import Event, Metadata
from events.errors import LedgerError
from events.vocabulary import StepFinished


def register(app: typer.Typer) -> None:
    """Add the run commands to `app`."""
    app.command("run")(run)
    app.command("runner")(runner)
    app.command("cancel")(cancel)
    app.command("logs")(logs)


def print_event(event: Event) -> None:
    """One line for a recorded event in a live display."""
    fields = json.dumps(event.model_dump(mode="json", exclude_defaults=True), separators=(",", ":"))
    typer.echo(f"● {event.type_name} {fields}")


def print_log(step: str, line: str) -> None:
    """One line of a step's output in a live display."""
    typer.echo(f"  {step} │ {line}")


def _cli_metadata(context: Context) -> Metadata:
    return Metadata(actor=context.settings.whoami(), source="cli")


def run(
    directory: Annotated[Path, typer.Argument(help="A git checkout.")] = Path("."),
    pipeline: Annotated[str, typer.Option(help="Pipeline file, relative to the checkout.")] = (
        DEFAULT_SOURCE
    ),
    detach: Annotated[bool, typer.Option(help="Only queue the run; runners execute it.")] = False,
    allow_dirty: Annotated[
        bool, typer.Option(help="Run uncommitted changes (recorded as dirty).")
    ] = False,
) -> None:
    """Queue a run of the pipeline at the checkout's HEAD, and run it here unless --detach."""
    context = prepare()
    with open_store(context) as store:
        run_id, queued = queue_checkout(
            store,
            context.database.app_url,
            directory,
            pipeline=pipeline,
            actor=_cli_metadata(context),
            allow_dirty=allow_dirty,
            detach=detach,
        )
        typer.echo(f"queued run {run_id} ({queued.commit[:12]} on {queued.ref})")
        if detach:
            return
        observers = Observers(on_event=print_event, on_log=print_log)
        try:
            with desk_factory(context.settings, store, context.database.app_url) as desks:
                state = run_here(
                    context.settings,
                    store,
                    context.database.app_url,
                    run_id,
                    queued,
                    observers,
                    desks,
                )
        except KeyboardInterrupt:
            # The run recorded its cancellation and removed its containers on the way out.
            state = RunLedger(store).state(run_id)
            _say_how_it_ended(state)
            raise typer.Exit(130) from None
    if state is None:
        typer.echo("another runner claimed the run first; see `shiplog events tail --follow`")
        return
    _say_how_it_ended(state)
    if state.status != "succeeded":
        raise typer.Exit(1)


def _say_how_it_ended(state: RunState) -> None:
    """The last line `shiplog run` prints: the run's outcome and why."""
    typer.echo(f"run {state.run_id} {state.status}" + (f": {state.reason}" if state.reason else ""))


def runner() -> None:
    """Claim and execute queued runs until interrupted (SIGINT/SIGTERM finish active runs)."""
    context = prepare()
    stop = threading.Event()

    def finish(signum: int, frame: FrameType | None) -> None:
        typer.echo("stopping: finishing the active runs", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    with (
        open_store(context) as store,
        desk_factory(context.settings, store, context.database.app_url) as desks,
    ):
        worker = Runner(
            settings=context.settings,
            store=store,
            app_url=context.database.app_url,
            client=connect(),
            name=default_runner_name(context.settings),
            desks=desks,
        )
        typer.echo(f"runner {worker.name} working (up to {context.settings.runner_concurrency})")
        worker.run_forever(stop)


def cancel(
    run_id: Annotated[str, typer.Argument(help="The run to cancel.")],
    reason: Annotated[str | None, typer.Option(help="Why, for the record.")] = None,
) -> None:
    """Cancel an unfinished run; its runner stops its containers within seconds."""
    context = prepare()
    with open_store(context) as store:
        state = cancel_run(store, run_id, _cli_metadata(context), reason)
    typer.echo(f"run {state.run_id} {state.status}")


def logs(
    run_id: Annotated[str, typer.Argument(help="The run (or `expire`, with --older-than).")],
    step: Annotated[str | None, typer.Argument(help="The step.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = (
        False
    ),
    verify: Annotated[
        bool, typer.Option(help="Check the stored log against StepFinished's digest.")
    ] = False,
    older_than: Annotated[
        str | None,
        typer.Option(help="With `expire`: remove logs last written longer ago, e.g. 90d, 12h."),
    ] = None,
) -> None:
    """Print a step's log (live with --follow), check it with --verify, or expire old logs.

    `shiplog logs expire --older-than 90d` removes whole logs last written before then;
    every event stays, StepFinished keeps each log's sha256 and line count, and the run
    page says when a log expired.
    """
    if run_id == "expire":
        _expire(older_than)
        return
    if step is None or older_than is not None:
        raise LedgerError("usage: shiplog logs RUN STEP [--follow|--verify], or "
                          "shiplog logs expire --older-than 90d")  # fmt: skip
    context = prepare()
    with open_store(context) as store:
        RunLedger(store).state(run_id)  # a clear error for an unknown run
        finished = [
            e.data
            for e in store.read_stream(f"run-{run_id}")
            if isinstance(e.data, StepFinished) and e.data.step == step
        ]
    app_url = context.database.app_url
    if verify:
        if not finished:
            raise LedgerError(f"run {run_id}: step {step!r} has not finished, nothing to verify")
        recorded = finished[-1]
        if recorded.log_sha256 is None:
            raise LedgerError(
                f"run {run_id}: the log of step {step!r} was not sealed ({recorded.reason}: "
                "another process closed the step), so the ledger vouches for no digest"
            )
        stored = log_digest(app_url, run_id, step)
        if (stored.sha256, stored.lines) != (recorded.log_sha256, recorded.log_lines):
            typer.echo(
                f"FAILED log of {step}: stored sha256 {stored.sha256} ({stored.lines} lines), "
                f"recorded {recorded.log_sha256} ({recorded.log_lines} lines)",
                err=True,
            )
            raise typer.Exit(1)
        typer.echo(
            f"log of {step} matches the ledger: sha256 {stored.sha256}, {stored.lines} lines"
        )
        return
    if not follow or finished:
        for line in read_log(app_url, run_id, step):
            sys.stdout.write(line.text + "\n")
        return
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    threading.Thread(
        target=_stop_when_finished, args=(context, run_id, step, stop), daemon=True
    ).start()
    for line in follow_log(app_url, run_id, step, stop=stop):
        sys.stdout.write(line.text + "\n")
        sys.stdout.flush()


def _expire(older_than: str | None) -> None:
    """`shiplog logs expire --older-than AGE`, as the database owner."""
    if older_than is None:
        raise LedgerError("shiplog logs expire needs --older-than, e.g. --older-than 90d")
    cutoff = datetime.now(UTC) - parse_age(older_than, "--older-than")
    context = prepare()
    owner_url = owner_url_for(context.database, "expiring logs")
    expired = expire_logs(owner_url, older_than=cutoff, actor=context.settings.whoami())
    typer.echo(
        f"expired {expired.logs} logs ({expired.lines} lines) last written before "
        f"{cutoff:%Y-%m-%d %H:%M} UTC; the ledger keeps their digests and every event"
    )


def _stop_when_finished(context: Context, run_id: str, step: str, stop: threading.Event) -> None:
    """Set `stop` once the step (or the run) has finished, so `logs --follow` ends by itself."""
    with open_store(context) as store:
        ledger = RunLedger(store)
        while not stop.wait(1.0):
            events = store.read_stream(f"run-{run_id}")
            if any(isinstance(e.data, StepFinished) and e.data.step == step for e in events):
                break
            if ledger.state(run_id).finished:
                break
    stop.wait(1.0)  # let the follower pick up the last lines
    stop.set()
