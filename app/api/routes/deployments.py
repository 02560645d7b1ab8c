"""`POST /api/deployments`: record a deployment another tool made."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, status
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from app.api.deps import ActorDep, StoreDep
from app.api.services.deployments import (
    Deployment,
    Status,
    record_deployment,
)

router = APIRouter(prefix="/api", tags=["events from outside"])

DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"

# PostgreSQL's jsonb cannot hold U+0000, so text with it is refused here, not a 500.
NO_NUL = r"^[^\x00]*$"
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
Text = Annotated[str, Field(min_length=1, max_length=2000, pattern=NO_NUL)]
# A time with its offset, stored in UTC as the vocabulary says; a naive time is refused.
UtcTime = Annotated[AwareDatetime, AfterValidator(lambda value: value.astimezone(UTC))]
Sha = Annotated[str, Field(pattern=r"^[0-9a-f]{40}([0-9a-f]{24})?$")]


class DeploymentIn(BaseModel):
    """A deployment as another tool reports it."""

    model_config = ConfigDict(extra="forbid")

    environment: Name = Field(description="The environment; its events go to `env-<name>`.")
    service: Name = Field(description="The service rolled out to.")
    image_digest: str = Field(
        pattern=DIGEST_PATTERN, description="The image rolled out, `sha256:<64 hex>`."
    )
    status: Status = Field(description="`started`, `succeeded` or `failed`.")
    deployment_id: Name = Field(
        default_factory=lambda: str(uuid4()),
        description="Identifies the rollout (default: a new uuid); resend it to retry safely.",
    )
    run_id: Name | None = Field(default=None, description="The run the image came from.")
    reason: Text | None = Field(default=None, description="Why it failed (status `failed`).")
    strategy: Name = Field(default="rolling", description="How the service was moved.")
    repository: Text | None = Field(
        default=None, description="The repository the image was built from, if known."
    )
    commit: Sha | None = Field(
        default=None, description="The full sha of the commit the image was built from."
    )
    started_at: UtcTime | None = Field(
        default=None, description="When the rollout began (default: when it is recorded)."
    )
    finished_at: UtcTime | None = Field(
        default=None,
        description="When it ended, for `succeeded` or `failed` (default: when recorded).",
    )


class Recorded(BaseModel):
    """Where the request's events are in the ledger."""

    positions: list[int] = Field(description="Ledger positions of the request's events.")
    replayed: bool = Field(description="True if they were all recorded before: nothing written.")


class DeploymentOut(Recorded):
    deployment_id: str


@router.post(
    "/deployments",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "The deployment id is recorded with other content."}},
)
def post_deployment(body: DeploymentIn, store: StoreDep, actor: ActorDep) -> DeploymentOut:
    """Record DeploymentStarted and its outcome in `env-<environment>`, as the actor."""
    deployment = Deployment(
        environment=body.environment,
        service=body.service,
        image_digest=body.image_digest,
        status=body.status,
        deployment_id=body.deployment_id,
        run_id=body.run_id,
        reason=body.reason,
        strategy=body.strategy,
        repository=body.repository,
        commit=body.commit,
        started_at=body.started_at,
        finished_at=body.finished_at,
    )
    written = record_deployment(store, deployment, actor)
    return DeploymentOut(
        deployment_id=body.deployment_id, positions=written.positions, replayed=written.replayed
    )
