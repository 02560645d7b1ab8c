"""Delivering digests: `shiplog deploy` and `shiplog promote`, as the OS user.

Both wait for the deployment to end (approvals, soak and freeze windows included),
printing what it waits for, unless `--detach`: then they record the request, take it
as far as it goes without waiting, and leave the rest to `shiplog serve`'s worker.
They exit 1 unless the deployment succeeded (or, detached, is still on its way).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

import typer

from app.context import Context, open_store, prepare
from app.delivery.decisions import InvalidDecision, reject
from app.delivery.desk import Desk
from app.delivery.rollout import Progress, waits_of
from app.pipeline.deploy import parse_period
from app.services.delivery import (
    approve_and_drive,
    check_drift,
    deploy,
    open_desk,
    promote,
    release_pin,
    rollback,
    swarm_pool,
    waiting_request,
    waive,
)

DetachOption = Annotated[
    bool, typer.Option(help="Record the request and return once it waits; the server drives it.")
]


def register(app: typer.Typer) -> None:
    """Add the delivery commands to `app`."""
    app.command("deploy")(deploy_command)
    app.command("promote")(promote_command)
    app.command("waive")(waive_command)
    app.command("approve")(approve_command)
    app.command("reject")(reject_command)
    app.command("environment")(environment_command)
    app.command("rollback")(rollback_command)
    app.command("unpin")(unpin_command)
    app.command("drift")(drift_command)


@contextmanager
def cli_desk() -> Iterator[tuple[Context, Desk]]:
    """The settings and a desk for one command; the swarm clients closed after it."""
    context = prepare()
    swarms = swarm_pool()
    try:
        with open_store(context) as store:
            yield context, open_desk(context.settings, store, swarms, context.database.app_url)
    finally:
        swarms.close()


def show(progress: Progress) -> None:
    """One line for where a deployment stands."""
    request = progress.request
    head = (
        f"deployment {request.deployment_id}: {request.image_digest[:19]} to "
        f"{request.service}: {request.status}"
    )
    if progress.waits:
        head += " (waiting for " + "; ".join(w.reason for w in progress.waits) + ")"
    if request.reason:
        head += f": {request.reason}"
    typer.echo(head)


def finish(progress: Progress, detach: bool) -> None:
    """Print the end, and exit 1 unless it succeeded (or, detached, still goes on)."""
    show(progress)
    status = progress.request.status
    if status == "succeeded" or (detach and status in ("waiting", "started")):
        return
    raise typer.Exit(1)


def deploy_command(
    environment: Annotated[str, typer.Argument(help="The environment, e.g. staging.")],
    service: Annotated[str, typer.Argument(help="The service, as the environment names it.")],
    digest: Annotated[str, typer.Argument(help="The manifest digest, sha256:<hex>; never a tag.")],
    detach: DetachOption = False,
) -> None:
    """Deliver one image digest to a service of an environment, under its rules and gates."""
    with cli_desk() as (context, desk):
        progress = deploy(
            desk,
            environment,
            service,
            digest,
            context.settings.whoami(),
            wait=not detach,
            on_progress=show,
        )
    finish(progress, detach)


def promote_command(
    service: Annotated[str, typer.Argument(help="The service to promote.")],
    source: Annotated[str, typer.Option("--from", help="The environment it runs in now.")],
    target: Annotated[str, typer.Option("--to", help="The environment to deliver it to.")],
    detach: DetachOption = False,
) -> None:
    """Deliver to --to the digest the service runs in --from, under --to's rules and gates."""
    with cli_desk() as (context, desk):
        progress = promote(
            desk,
            service,
            source,
            target,
            context.settings.whoami(),
            wait=not detach,
            on_progress=show,
        )
    finish(progress, detach)


def lasting(text: str) -> timedelta:
    """A period option (`7d`, `12h`) as a timedelta; InvalidDecision naming the option."""
    try:
        return timedelta(seconds=parse_period(text))
    except ValueError as error:
        raise InvalidDecision(f"--for: {error}") from None


def waive_command(
    environment: Annotated[str, typer.Argument(help="The environment whose gate is waived.")],
    digest: Annotated[str, typer.Argument(help="The manifest digest the waiver is for.")],
    gate: Annotated[str, typer.Option(help="provenance, scan or tests.")],
    reason: Annotated[str, typer.Option(help="Why; recorded with the waiver.")],
    lasts: Annotated[str, typer.Option("--for", help="How long it counts, e.g. 12h, 7d.")] = "1d",
) -> None:
    """As an approver, let one digest pass one evidence gate of an environment for a while."""
    with cli_desk() as (context, desk):
        granted = waive(
            desk, environment, digest, gate, reason, lasting(lasts), context.settings.whoami()
        )
    typer.echo(
        f"waived {granted.policy} for {granted.image_digest} in {environment} until "
        f"{granted.expires_at:%Y-%m-%d %H:%M:%S} UTC (by {granted.granted_by})"
    )


def approve_command(
    environment: Annotated[str, typer.Argument(help="The environment.")],
    deployment: Annotated[str, typer.Argument(help="The deployment's id.")],
    comment: Annotated[str | None, typer.Option(help="Recorded with the approval.")] = None,
) -> None:
    """As an approver, approve a waiting deployment: its digest and evidence, as printed."""
    with cli_desk() as (context, desk):
        request = waiting_request(desk, environment, deployment)
        typer.echo(
            f"approving {request.image_digest} to {request.service} in {environment} "
            f"(evidence {request.evidence_sha256}), asked by {request.requested_by}"
        )
        progress = approve_and_drive(
            desk, environment, deployment, context.settings.whoami(), comment=comment
        )
    show(progress)


def reject_command(
    environment: Annotated[str, typer.Argument(help="The environment.")],
    deployment: Annotated[str, typer.Argument(help="The deployment's id.")],
    reason: Annotated[str, typer.Option(help="Why; recorded with the rejection.")],
) -> None:
    """As an approver, reject a waiting deployment; it ends without starting."""
    with cli_desk() as (context, desk):
        request = reject(desk, environment, deployment, context.settings.whoami(), reason=reason)
    typer.echo(f"deployment {deployment}: {request.status}: {request.reason}")


def environment_command(
    environment: Annotated[str, typer.Argument(help="The environment.")],
) -> None:
    """What each configured service of an environment runs, and what waits or runs there."""
    with cli_desk() as (_, desk):
        config = desk.config.environment(environment)
        state = desk.state(environment)
        for name in sorted(config.services):
            service = state.service(name)
            running = service.running.image_digest if service.running else "nothing"
            pin = (
                f" (pinned by {service.pin.pinned_by}: {service.pin.reason})" if service.pin else ""
            )
            typer.echo(f"{name}: runs {running}{pin}")
            pending = service.open_request()
            if pending is not None:
                waits = waits_of(desk, config, pending) if pending.status == "waiting" else []
                show(Progress(pending, tuple(waits)))


def rollback_command(
    environment: Annotated[str, typer.Argument(help="The environment.")],
    service: Annotated[str, typer.Argument(help="The service to roll back.")],
    reason: Annotated[str, typer.Option(help="Why; recorded, and the pin's reason.")],
    to: Annotated[
        str | None, typer.Option("--to", help="An earlier digest; default the previous one.")
    ] = None,
) -> None:
    """Return a service to an earlier digest and pin it there until `shiplog unpin`."""
    with cli_desk() as (context, desk):
        done = rollback(
            desk, environment, service, context.settings.whoami(), reason=reason, to_digest=to
        )
    typer.echo(
        f"{service} in {environment}: {done.from_digest} -> {done.to_digest}: "
        f"{done.result.outcome} ({done.result.message}); pinned at {done.to_digest}"
    )
    if done.result.outcome != "converged":
        raise typer.Exit(1)


def unpin_command(
    environment: Annotated[str, typer.Argument(help="The environment.")],
    service: Annotated[str, typer.Argument(help="The pinned service.")],
    reason: Annotated[str, typer.Option(help="Why; recorded.")],
) -> None:
    """Let a pinned service receive other digests again."""
    with cli_desk() as (context, desk):
        pin = release_pin(desk, environment, service, context.settings.whoami(), reason=reason)
    typer.echo(f"{service} in {environment} is no longer pinned at {pin.image_digest}")


def drift_command(
    environment: Annotated[str, typer.Argument(help="The environment.")],
) -> None:
    """Compare what the swarm runs with what the ledger says; exit 1 if they differ."""
    with cli_desk() as (context, desk):
        report = check_drift(desk, environment, context.settings.whoami())
    for drift in report.drifts:
        seen = drift.observed
        have = f"runs {seen.image_digest} x{seen.replicas}" if seen else "does not run"
        want = drift.intended
        should = f"; should run {want.image_digest} x{want.replicas}" if want else ""
        typer.echo(f"{drift.service}: {', '.join(drift.differences)}: {have}{should}")
    for service in report.resolved:
        typer.echo(f"{service}: runs as intended again")
    if not report.drifts:
        typer.echo(f"{environment}: the swarm runs what the ledger says")
        return
    raise typer.Exit(1)
