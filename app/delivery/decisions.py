"""Decisions people record about deliveries: waivers of a gate, approvals and rejections.

Each is an event in the environment's stream with the deciding actor in its metadata;
who may decide (the `approver` role) is checked by the adapter that authenticated
the actor. The rules about whom a decision counts for are the domain's: a waiver
never counts for a deployment its own grantor asks for (app/delivery/ledger.py).
"""

from __future__ import annotations

from datetime import timedelta

from app.delivery.desk import Desk
from app.delivery.errors import DeliveryError, NotWaiting, UnknownDeployment
from app.delivery.gates import GATES
from app.delivery.ledger import EnvironmentState, Request, Waiver
from app.delivery.rules import eligible_approvers
from events.errors import WrongExpectedVersion
from events.vocabulary import ApprovalGranted, ApprovalRejected, WaiverGranted

MAX_WAIVER = timedelta(days=30)
"""The longest a waiver may last."""


class InvalidDecision(DeliveryError, ValueError):
    """A decision that cannot be recorded as given (an unknown gate, no reason, ...)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field  # the request field at fault, where one is
        super().__init__(message)


class NotAllowed(DeliveryError, PermissionError):
    """This actor may not take this decision (the requester approving, a non-member)."""


class StaleApproval(DeliveryError):
    """The approval names another digest or evidence than the deployment carries."""


def grant_waiver(
    desk: Desk,
    environment: str,
    image_digest: str,
    policy: str,
    reason: str,
    lasts: timedelta,
    actor: str,
) -> Waiver:
    """Let `image_digest` pass gate `policy` of `environment` for `lasts`, as `actor`."""
    config = desk.config.environment(environment)
    if policy not in GATES:
        raise InvalidDecision(f"gate {policy!r} is not one of {', '.join(GATES)}", "gate")
    if not reason.strip():
        raise InvalidDecision("a waiver needs a reason", "reason")
    if not timedelta(0) < lasts <= MAX_WAIVER:
        raise InvalidDecision(
            f"a waiver lasts more than 0 s and at most {MAX_WAIVER.days} days", "lasts"
        )
    granted = WaiverGranted(
        image_digest=image_digest,
        policy=policy,  # type: ignore[arg-type]  # checked against GATES above
        reason=reason.strip(),
        expires_at=desk.now() + lasts,
    )
    desk.record(config.name, [granted], actor)
    return desk.state(config.name).waivers[-1]


def _waiting(desk: Desk, environment: str, deployment_id: str) -> tuple[EnvironmentState, Request]:
    """The environment's state and the deployment, which must still wait."""
    desk.config.environment(environment)
    state = desk.state(environment)
    request = state.request(deployment_id)
    if request is None:
        raise UnknownDeployment(f"no deployment {deployment_id} in {environment}")
    if request.status != "waiting":
        raise NotWaiting(f"deployment {deployment_id} is {request.status}; nothing to decide")
    return state, request


def approve(
    desk: Desk,
    environment: str,
    deployment_id: str,
    actor: str,
    *,
    image_digest: str,
    evidence_sha256: str,
    comment: str | None = None,
) -> Request:
    """Approve the deployment as `actor`, naming the digest and evidence hash they saw.

    Never the person who asked for it; with `approvals.groups`, only their members; an
    approval of another digest or other evidence is refused (StaleApproval).
    """
    config = desk.config.environment(environment)
    _, request = _waiting(desk, environment, deployment_id)
    if actor == request.requested_by:
        raise NotAllowed(f"{actor} asked for deployment {deployment_id} and may not approve it")
    members = eligible_approvers(desk.config, config)
    if members is not None and actor not in members:
        groups = ", ".join(config.approvals.groups)
        raise NotAllowed(f"{actor} is not a member of {groups}, whose approval {environment} needs")
    if (image_digest, evidence_sha256) != (request.image_digest, request.evidence_sha256):
        raise StaleApproval(
            f"deployment {deployment_id} delivers {request.image_digest} with evidence "
            f"{request.evidence_sha256[:16]}…; the approval names {image_digest} with "
            f"{evidence_sha256[:16]}…"
        )
    granted = ApprovalGranted(
        run_id=request.run_id,
        service=request.service,
        deployment_id=deployment_id,
        image_digest=image_digest,
        evidence_sha256=evidence_sha256,
        comment=comment,
    )
    desk.record(config.name, [granted], actor, correlation=deployment_id)
    return _current(desk, environment, deployment_id)


def reject(desk: Desk, environment: str, deployment_id: str, actor: str, *, reason: str) -> Request:
    """Reject the deployment as `actor`; it ends without starting."""
    if not reason.strip():
        raise InvalidDecision("a rejection needs a reason", "reason")
    state, request = _waiting(desk, environment, deployment_id)
    rejected = ApprovalRejected(
        deployment_id=deployment_id,
        service=request.service,
        image_digest=request.image_digest,
        evidence_sha256=request.evidence_sha256,
        reason=reason.strip(),
    )
    try:  # at the version decided on: a start that came first wins, and the rejection fails
        desk.record(
            environment, [rejected], actor, expected=state.expected, correlation=deployment_id
        )
    except WrongExpectedVersion:
        return reject(desk, environment, deployment_id, actor, reason=reason)
    return _current(desk, environment, deployment_id)


def _current(desk: Desk, environment: str, deployment_id: str) -> Request:
    request = desk.state(environment).request(deployment_id)
    assert request is not None
    return request
