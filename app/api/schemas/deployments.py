"""Response bodies of the deployment, environment and deployment audit routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.api.schemas.base import FromRecord


class DeploymentOut(FromRecord):
    """One rollout: who started it, of what, where, when, from which commit, and its outcome."""

    deployment_id: str
    environment: str
    service: str
    image_digest: str | None
    status: str = Field(description="started, succeeded, failed or rolled_back.")
    started_at: datetime | None
    finished_at: datetime | None
    rolled_back_at: datetime | None
    actor: str | None = Field(description="Who reported the rollout's start.")
    strategy: str | None
    run_id: str | None
    repository: str | None
    commit: str | None = Field(description="Its own, else its run's, else its image's run's.")
    reason: str | None


class DeploymentAuditPageOut(BaseModel):
    """Deployments by start time; `next` is the `after` of the next page, null at the end."""

    deployments: list[DeploymentOut]
    next: str | None


class RunningOut(FromRecord):
    """What one service runs: the image and since when, and the rollout that brought it."""

    service: str
    image_digest: str | None
    since: datetime
    deployment_id: str
    how: str = Field(description="succeeded (a rollout) or rolled_back (back to this image).")
    actor: str


class EnvironmentRunningOut(BaseModel):
    """An environment and what each of its services runs."""

    environment: str
    running: list[RunningOut]


class EvidenceOut(FromRecord):
    """One piece of evidence a delivery was decided on."""

    kind: str = Field(description="`provenance`, `scan` or `tests`.")
    digest: str = Field(description="Its digest (docs/delivery.md).")


class DeliveredOut(FromRecord):
    """A service that runs a digest shiplog delivered: who asked, who approved, on what evidence."""

    service: str
    image_digest: str
    since: datetime = Field(description="When the rollout (or rollback) that brought it ended.")
    deployment_id: str
    requested_by: str = Field(description="Who asked for the deployment.")
    approved_by: list[str] = Field(description="Who approved it, in order.")
    evidence_sha256: str = Field(description="The evidence hash the approvals named.")
    evidence: list[EvidenceOut] = Field(description="The evidence, by digest.")
    waived: list[str] = Field(description="Gates waived for it.")


class EnvironmentOut(BaseModel):
    """An environment: what each service runs and its latest deployments, newest first."""

    environment: str
    as_of: str | None = Field(description="The ledger cursor answered from; null: now.")
    running: list[RunningOut]
    delivered: list[DeliveredOut] = Field(
        default_factory=list,
        description="Of those, what shiplog delivered, with who asked and approved and the "
        "evidence, as of the same moment (read from the environment's stream).",
    )
    history: list[DeploymentOut]
    next: str | None = Field(description="`after` for older history; null at the end.")
