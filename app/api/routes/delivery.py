"""Delivering digests over HTTP: deploy, promote, and a deployment's state.

A deploy or promotion is checked and recorded in the request (a refusal is a 409
listing each refusal, recorded as PromotionRefused); the rollout runs after the
answer (202), and whatever waits (approvals, soak, a freeze) is taken further by
`shiplog serve`'s worker. Deploying needs the `deployer` role, waiving a gate `approver`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Path, status

from app.api.schemas.delivery import (
    ApprovalIn,
    DeployIn,
    DeploymentStateOut,
    DriftOut,
    PromoteIn,
    RejectionIn,
    RollbackIn,
    RollbackOut,
    UnpinIn,
    WaiverIn,
    WaiverOut,
)
from app.delivery.decisions import approve, reject
from app.delivery.errors import UnknownDeployment
from app.delivery.requests import DeployAsk, promotion_ask
from app.delivery.rollout import Progress, waits_of
from app.deps import ApproverDep, DeskDep, OperatorDep, RolloutDep
from app.services.delivery import (
    check_drift,
    drive,
    release_pin,
    request_only,
    rollback,
    waive,
)
from events.vocabulary import SwarmState

router = APIRouter(prefix="/api", tags=["delivery"])

EnvironmentPath = Annotated[
    str, Path(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=32, description="e.g. `production`.")
]
REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"description": "DeploymentRefused by a rule or gate, or another deployment is under way."}
}
UNKNOWN: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such environment, service or deployment."}
}


@router.post(
    "/environments/{environment}/deployments",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**REFUSED, **UNKNOWN},
)
def post_deployment_request(
    environment: EnvironmentPath,
    body: DeployIn,
    desk: DeskDep,
    who: RolloutDep,
    background: BackgroundTasks,
) -> DeploymentStateOut:
    """Ask for `image_digest` in `service` of the environment; it rolls out after the answer."""
    ask = DeployAsk(environment=environment, service=body.service, image_digest=body.image_digest)
    progress = request_only(desk, ask, who.actor)
    background.add_task(drive, desk, environment, progress.request.deployment_id)
    return DeploymentStateOut.of(environment, progress)


@router.post(
    "/environments/{environment}/promotions",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**REFUSED, **UNKNOWN},
)
def post_promotion(
    environment: EnvironmentPath,
    body: PromoteIn,
    desk: DeskDep,
    who: RolloutDep,
    background: BackgroundTasks,
) -> DeploymentStateOut:
    """Promote what `service` runs in `from_environment` to this environment."""
    ask = promotion_ask(desk, body.service, body.from_environment, environment)
    progress = request_only(desk, ask, who.actor)
    background.add_task(drive, desk, environment, progress.request.deployment_id)
    return DeploymentStateOut.of(environment, progress)


@router.get("/environments/{environment}/deployments/{deployment_id}", responses=UNKNOWN)
def get_deployment_state(
    environment: EnvironmentPath, deployment_id: str, desk: DeskDep
) -> DeploymentStateOut:
    """Where a deployment stands, and what it waits for."""
    config = desk.config.environment(environment)
    request = desk.state(environment).request(deployment_id)
    if request is None:
        raise UnknownDeployment(f"no deployment {deployment_id} in {environment}")
    waits = waits_of(desk, config, request) if request.status == "waiting" else []
    return DeploymentStateOut.of(environment, Progress(request, tuple(waits)))


@router.post(
    "/environments/{environment}/waivers",
    status_code=status.HTTP_201_CREATED,
    responses={**UNKNOWN, 409: {"description": "Not a waiver that can be recorded."}},
)
def post_waiver(
    environment: EnvironmentPath, body: WaiverIn, desk: DeskDep, who: ApproverDep
) -> WaiverOut:
    """As an approver, let a digest pass one gate of the environment until it expires."""
    granted = waive(
        desk,
        environment,
        body.image_digest,
        body.gate,
        body.reason,
        timedelta(seconds=body.lasts),
        who.actor,
    )
    return WaiverOut.model_validate(granted)


@router.post(
    "/environments/{environment}/deployments/{deployment_id}/approvals",
    status_code=status.HTTP_201_CREATED,
    responses={**UNKNOWN, 403: {"description": "The requester, or not in the approval groups."},
               409: {"description": "It no longer waits, or carries another digest or evidence."}},
)  # fmt: skip
def post_approval(
    environment: EnvironmentPath,
    deployment_id: str,
    body: ApprovalIn,
    desk: DeskDep,
    who: ApproverDep,
    background: BackgroundTasks,
) -> DeploymentStateOut:
    """As an approver, approve the digest and evidence hash named; it starts once enough did."""
    request = approve(
        desk,
        environment,
        deployment_id,
        who.actor,
        image_digest=body.image_digest,
        evidence_sha256=body.evidence_sha256,
        comment=body.comment,
    )
    background.add_task(drive, desk, environment, deployment_id)
    return DeploymentStateOut.of(environment, Progress(request))


@router.post(
    "/environments/{environment}/deployments/{deployment_id}/rejections",
    status_code=status.HTTP_201_CREATED,
    responses={**UNKNOWN, 409: {"description": "It no longer waits."}},
)
def post_rejection(
    environment: EnvironmentPath,
    deployment_id: str,
    body: RejectionIn,
    desk: DeskDep,
    who: ApproverDep,
) -> DeploymentStateOut:
    """As an approver, reject a waiting deployment; it ends without starting."""
    request = reject(desk, environment, deployment_id, who.actor, reason=body.reason)
    return DeploymentStateOut.of(environment, Progress(request))


@router.post(
    "/environments/{environment}/rollbacks",
    responses={**UNKNOWN, 409: {"description": "Nothing earlier to return to, or a rollout runs."}},
)
def post_rollback(
    environment: EnvironmentPath, body: RollbackIn, desk: DeskDep, who: RolloutDep
) -> RollbackOut:
    """Return a service to an earlier digest (waiting for the swarm) and pin it there."""
    done = rollback(
        desk, environment, body.service, who.actor, reason=body.reason, to_digest=body.to_digest
    )
    return RollbackOut(
        service=done.service,
        from_digest=done.from_digest,
        to_digest=done.to_digest,
        outcome=done.result.outcome,
        message=done.result.message,
    )


@router.post(
    "/environments/{environment}/unpins",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=UNKNOWN,
)
def post_unpin(environment: EnvironmentPath, body: UnpinIn, desk: DeskDep, who: RolloutDep) -> None:
    """Let a pinned service receive other digests again."""
    release_pin(desk, environment, body.service, who.actor, reason=body.reason)


@router.post("/environments/{environment}/drift-checks", responses=UNKNOWN)
def post_drift_check(
    environment: EnvironmentPath, desk: DeskDep, who: OperatorDep
) -> list[DriftOut]:
    """Compare the swarm with the ledger now, record what changed, and list the drift."""
    report = check_drift(desk, environment, who.actor)
    return [drift_out(d.service, d.differences, d.observed, d.intended) for d in report.drifts]


@router.get("/environments/{environment}/drift", responses=UNKNOWN)
def get_drift(environment: EnvironmentPath, desk: DeskDep) -> list[DriftOut]:
    """The drift the last check recorded and that has not been resolved since."""
    desk.config.environment(environment)
    open_drift = desk.state(environment).drift
    return [
        drift_out(d.service, d.differences, d.observed, d.intended) for d in open_drift.values()
    ]


def drift_out(
    service: str,
    differences: tuple[str, ...],
    observed: SwarmState | None,
    intended: SwarmState | None,
) -> DriftOut:
    """The answer for one drifted service."""
    return DriftOut(
        service=service,
        differences=list(differences),
        observed=None if observed is None else observed.model_dump(),
        intended=None if intended is None else intended.model_dump(),
    )
