"""Notifications and background work: `shiplog notify target add|ls|rm`, `shiplog worker`.

`shiplog worker` does what `shiplog serve` does in the background (but folding the
projections), for a host that runs no server: webhook deliveries into runs,
notifications, waiting deployments and lost drivers, standbys, drift.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Annotated

import typer

from app.context import Context, open_store, prepare
from app.delivery.desk import Desk
from app.notify.rules import load_rules
from app.queries.notifications import list_targets
from app.services.delivery import delivery_round, drift_round, open_desk, swarm_pool
from app.services.notifications import (
    TargetRequest,
    add_target,
    deliver_next,
    match_new_events,
    notification_backoff,
    remove_target,
)
from app.services.triggers import process_next_delivery
from events.catalogue import Metadata
from events.store import EventStore


def register(app: typer.Typer) -> None:
    """Add the `notify` command group and `worker` to `app`."""
    notify_app = typer.Typer(help="Where notifications go.", no_args_is_help=True)
    target_app = typer.Typer(help="Notification targets (admin).", no_args_is_help=True)
    target_app.command("add")(target_add)
    target_app.command("ls")(target_ls)
    target_app.command("rm")(target_rm)
    notify_app.add_typer(target_app, name="target")
    app.add_typer(notify_app, name="notify")
    app.command("worker")(worker)


def target_add(
    name: Annotated[str, typer.Argument(help="The target's name, as rules name it.")],
    url: Annotated[str, typer.Argument(help="Where to POST (a Slack webhook URL is a secret).")],
    kind: Annotated[str, typer.Option(help="slack or webhook (Standard Webhooks JSON).")] = (
        "webhook"
    ),
    secret_stdin: Annotated[
        bool,
        typer.Option(help="Read `whsec_` signing secrets from stdin, one a line (rotation: two)."),
    ] = False,
    allow_private: Annotated[
        bool, typer.Option(help="Allow loopback and private addresses (refused by default).")
    ] = False,
) -> None:
    """Register (or replace) a notification target."""
    secrets: tuple[str, ...] = ()
    if secret_stdin:
        secrets = tuple(line.strip() for line in sys.stdin.read().splitlines() if line.strip())
    context = prepare()
    request = TargetRequest(name, kind, url, secrets, allow_private)
    with open_store(context) as store:
        add_target(
            store,
            context.database.app_url,
            request,
            Metadata(actor=context.settings.whoami(), source="cli"),
        )
    typer.echo(f"target {name} registered ({kind}{', signed' if secrets else ''})")


def target_ls() -> None:
    """List the targets: name, kind, where (scheme, host and port only), state."""
    for view in list_targets(prepare().database.app_url):
        state = f"disabled: {view.disabled}" if view.disabled else "enabled"
        signed = "signed" if view.signed else "unsigned"
        typer.echo(f"{view.name}\t{view.kind}\t{view.origin}\t{signed}\t{state}")


def target_rm(name: Annotated[str, typer.Argument(help="The target's name.")]) -> None:
    """Remove a target; what waits for it is dropped."""
    context = prepare()
    with open_store(context) as store:
        remove_target(
            store,
            context.database.app_url,
            name,
            Metadata(actor=context.settings.whoami(), source="cli"),
        )
    typer.echo(f"target {name} removed")


def worker(
    once: Annotated[
        bool,
        typer.Option(
            help="One pass, then stop (instead of until Ctrl-C): what is due now, a drift "
            "check of each environment."
        ),
    ] = False,
) -> None:
    """Do the queued work `shiplog serve` does: webhook deliveries into runs, notifications,
    waiting deployments (and those whose driver was lost), standbys to retire, drift."""
    context = prepare()
    settings, conninfo = context.settings, context.database.app_url
    swarms = swarm_pool()
    try:
        with open_store(context) as store:

            def make_desk() -> Desk:
                return open_desk(settings, store, swarms, conninfo)

            if once:
                _one_pass(context, store, make_desk())
            else:
                _until_stopped(context, store, make_desk)
    finally:
        swarms.close()


def _one_pass(context: Context, store: EventStore, desk: Desk) -> None:
    """What is due now, each thing once: deliveries, notifications, deployments, drift."""
    settings, conninfo = context.settings, context.database.app_url
    backoff = notification_backoff(
        settings.notify_attempts, settings.notify_retry_base, settings.notify_retry_cap
    )
    while process_next_delivery(store, conninfo, settings.home / "mirrors", settings.keyring_path):
        pass
    match_new_events(store, conninfo, load_rules(settings.notify_rules), settings.public_url)
    sent, started = 0, datetime.now(UTC)  # what is due now, each message once
    while deliver_next(
        store,
        conninfo,
        backoff,
        timeout=settings.notify_timeout,
        keyring=settings.keyring_path,
        due_by=started,
    ):
        sent += 1
    typer.echo(f"worker: {sent} delivery attempt(s)")
    actor = settings.whoami()
    done = delivery_round(desk, actor)
    typer.echo(
        f"worker: {len(done.reaped)} deployment(s) whose driver was lost failed, "
        f"{len(done.advanced)} waiting deployment(s) advanced, "
        f"{len(done.retired)} standby(s) retired"
    )
    reports = drift_round(desk, actor)
    drifted = sum(len(report.drifts) for report in reports)
    typer.echo(f"worker: {len(reports)} environment(s) checked for drift, {drifted} drifting")


def _until_stopped(context: Context, store: EventStore, make_desk: Callable[[], Desk]) -> None:
    """The background threads of `shiplog serve` (but the projections) until Ctrl-C or SIGTERM."""
    from app.server import background_workers, delivery_workers

    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stopping)
    threads = [
        *background_workers(store, context, stop),
        *delivery_workers(make_desk, context.settings, stop),
    ]
    for thread in threads:
        thread.start()
    typer.echo(
        "shiplog worker: webhook deliveries, notifications, deployments and drift (Ctrl-C stops it)"
    )
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        stop.set()
    for thread in threads:
        thread.join(timeout=30)
