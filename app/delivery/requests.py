"""Asking for a deployment: the rules and gates first, then DeploymentRequested, or refusals.

`request_deployment` is the one entrance for `shiplog deploy`, `shiplog promote`, the
API, the pages' buttons and a pipeline's deploy step. It refuses a digest that breaks
a rule or fails a gate, appending one PromotionRefused per refusal, and otherwise
appends DeploymentRequested at the stream version it decided on, so that two requests
for one service cannot both get in. What it then waits for (approvals, soak, a
freeze) and the rollout itself are app/delivery/rollout.py's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from app.delivery.desk import Desk, settings_json
from app.delivery.environments import Environment
from app.delivery.errors import (
    DeploymentInProgress,
    DeploymentRefused,
    NotDeliverable,
    NothingToPromote,
    Refusal,
    UnknownService,
)
from app.delivery.evidence import Evidence
from app.delivery.gates import GATES, check_gates
from app.delivery.ledger import Pin, Request
from app.delivery.rules import requires_refusals
from app.pipeline.deploy import ServiceSettings
from events.errors import WrongExpectedVersion
from events.vocabulary import DeploymentRequested, PromotionRefused

ATTEMPTS = 5
"""How often a request decides again when the environment's stream moved meanwhile."""


@dataclass(frozen=True)
class DeployAsk:
    """One digest to one service of one environment, and where the ask came from."""

    environment: str
    service: str
    image_digest: str
    settings: ServiceSettings | None = None  # None: the environment's settings for the service
    run_id: str | None = None
    from_environment: str | None = None


def _settings(environment: Environment, ask: DeployAsk) -> ServiceSettings:
    """The settings to deploy with: the ask's own, else the environment's."""
    if ask.settings is not None:
        return ask.settings
    try:
        return environment.services[ask.service]
    except KeyError:
        known = ", ".join(sorted(environment.services)) or "none"
        raise UnknownService(
            f"environment {environment.name} has no service {ask.service!r} configured "
            f"(configured: {known})"
        ) from None


def refusals_of(
    desk: Desk,
    environment: Environment,
    ask: DeployAsk,
    evidence: Evidence | None,
    waived: frozenset[str],
    pin: Pin | None = None,
) -> list[Refusal]:
    """Every rule and gate that refuses the ask, in a fixed order (`waived` gates skipped)."""
    now = desk.now()
    refusals: list[Refusal] = []
    if pin is not None and pin.image_digest != ask.image_digest:
        refusals.append(pinned_refusal(ask.service, pin))
    required = {name: desk.state(name) for name in environment.requires}
    refusals += requires_refusals(environment, required, ask.service, ask.image_digest, now)
    if evidence is None:
        refusals.append(Refusal("provenance", f"no run of this shiplog pushed {ask.image_digest}"))
    else:
        refusals += check_gates(environment.gates, evidence, waived)
    return refusals


def pinned_refusal(service: str, pin: Pin) -> Refusal:
    """The refusal of any digest but the one a service is pinned at."""
    return Refusal(
        "pinned",
        f"{service} is pinned at {pin.image_digest} by {pin.pinned_by} ({pin.reason}); "
        "unpin it first (shiplog unpin)",
    )


def request_deployment(desk: Desk, ask: DeployAsk, actor: str) -> Request:
    """Check the ask against the rules and gates, then record it; DeploymentRefused if refused."""
    environment = desk.config.environment(ask.environment)
    settings = _settings(environment, ask)
    for _ in range(ATTEMPTS):
        state = desk.state(environment.name)
        busy = state.service(ask.service).open_request()
        if busy is not None:
            raise DeploymentInProgress(
                f"deployment {busy.deployment_id} of {busy.image_digest} to {ask.service} in "
                f"{environment.name} is {busy.status}; wait for it, or reject it"
            )
        try:
            evidence: Evidence | None = desk.evidence.evidence_of(ask.image_digest)
        except NotDeliverable:
            evidence = None
        waived = state.waived(ask.image_digest, desk.now(), actor)
        pin = state.service(ask.service).pin
        refusals = refusals_of(desk, environment, ask, evidence, waived, pin)
        if refusals:
            record_refusals(desk, environment.name, ask, evidence, refusals, actor)
            raise DeploymentRefused(environment.name, ask.service, ask.image_digest, refusals)
        assert evidence is not None  # a digest without evidence is refused above
        deployment_id = str(uuid.uuid4())
        running = state.service(ask.service).running
        requested = DeploymentRequested(
            deployment_id=deployment_id,
            service=ask.service,
            image_digest=ask.image_digest,
            image=evidence.image,
            strategy=settings.strategy,
            settings=settings_json(settings),
            run_id=ask.run_id,
            from_environment=ask.from_environment,
            previous_digest=running.image_digest if running else None,
            repository=evidence.repository,
            commit=evidence.commit,
            evidence_sha256=evidence.sha256(),
            evidence=evidence.items(),
            waived=tuple(sorted(waived & set(GATES))),
            approvals_required=environment.approvals.count,
            expires_at=desk.now() + timedelta(seconds=environment.wait_timeout),
        )
        try:
            desk.record(
                environment.name,
                [requested],
                actor,
                expected=state.expected,
                correlation=deployment_id,
            )
        except WrongExpectedVersion:
            continue  # someone wrote to the environment meanwhile: decide again
        found = desk.state(environment.name).request(deployment_id)
        assert found is not None
        return found
    raise DeploymentInProgress(
        f"{environment.name} changed {ATTEMPTS} times while the request was decided; try again"
    )


def record_refusals(
    desk: Desk,
    environment: str,
    ask: DeployAsk,
    evidence: Evidence | None,
    refusals: list[Refusal],
    actor: str,
    deployment_id: str | None = None,
) -> None:
    """One PromotionRefused per refusal, in one append (naming the deployment, if any)."""
    items = evidence.items() if evidence is not None else ()
    refused = [
        PromotionRefused(
            deployment_id=deployment_id,
            service=ask.service,
            image_digest=ask.image_digest,
            policy=refusal.policy,
            reason=refusal.reason,
            from_environment=ask.from_environment,
            evidence=items,
        )
        for refusal in refusals
    ]
    desk.record(environment, refused, actor, correlation=deployment_id)


def promotion_ask(desk: Desk, service: str, source: str, target: str) -> DeployAsk:
    """The ask that promotes what `service` runs in `source` to `target`."""
    desk.config.environment(source)
    running = desk.state(source).service(service).running
    if running is None:
        raise NothingToPromote(f"{service} runs nothing in {source} to promote")
    return DeployAsk(
        environment=target,
        service=service,
        image_digest=running.image_digest,
        from_environment=source,
    )
