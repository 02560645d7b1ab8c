"""Bodies and answers of the delivery routes: deploy, promote, a deployment's state."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas.base import DIGEST_PATTERN, FromRecord, Name, Text
from app.delivery.rollout import Progress
from app.pipeline.deploy import Period


class DeployIn(BaseModel):
    """One digest to one service of the environment in the path."""

    model_config = ConfigDict(extra="forbid")

    service: Name = Field(description="The service, as the environments file names it.")
    image_digest: str = Field(
        pattern=DIGEST_PATTERN,
        description="The manifest digest a run pushed, `sha256:<64 hex>`; never a tag.",
    )


class PromoteIn(BaseModel):
    """Promote what a service runs in one environment to the environment in the path."""

    model_config = ConfigDict(extra="forbid")

    service: Name = Field(description="The service to promote.")
    from_environment: Name = Field(description="The environment it runs in now.")


class WaitOut(FromRecord):
    """Something a deployment waits for."""

    rule: str = Field(description="`approvals`, `soak`, `freeze` or `allow`.")
    reason: str = Field(description="What it waits for, in a sentence.")
    until: datetime | None = Field(description="When the wait ends, if that is known.")


class RefusalOut(FromRecord):
    """A rule or gate that refused a digest (recorded as PromotionRefused)."""

    policy: str = Field(description="The rule or gate.")
    reason: str = Field(description="Why it refused.")


class DeploymentStateOut(BaseModel):
    """A deployment shiplog was asked for, and where it stands."""

    deployment_id: str = Field(description="The deployment's id.")
    environment: str = Field(description="The environment.")
    service: str = Field(description="The service.")
    image_digest: str = Field(description="The digest delivered.")
    strategy: str = Field(description="`rolling`, `blue-green` or `canary`.")
    status: str = Field(
        description="`waiting`, `started`, `succeeded`, `failed`, `rolled_back`, `refused`, "
        "`rejected` or `expired`."
    )
    requested_by: str = Field(description="Who asked for it.")
    requested_at: datetime = Field(description="When it was asked for.")
    expires_at: datetime = Field(description="When it expires if it still waits.")
    evidence_sha256: str = Field(description="The evidence hash approvals must name.")
    approvals_required: int = Field(description="Approvals it needs.")
    approved_by: list[str] = Field(description="Who approved it, in order.")
    from_environment: str | None = Field(description="Where it was promoted from, if promoted.")
    reason: str | None = Field(description="Why it ended as it did, if it failed or was refused.")
    waiting_for: list[WaitOut] = Field(description="What it waits for now.")

    @classmethod
    def of(cls, environment: str, progress: Progress) -> DeploymentStateOut:
        """The answer for a deployment's progress."""
        r = progress.request
        return cls(
            deployment_id=r.deployment_id,
            environment=environment,
            service=r.service,
            image_digest=r.image_digest,
            strategy=r.strategy,
            status=r.status,
            requested_by=r.requested_by,
            requested_at=r.requested_at,
            expires_at=r.expires_at,
            evidence_sha256=r.evidence_sha256,
            approvals_required=r.approvals_required,
            approved_by=[a.actor for a in r.approvals],
            from_environment=r.from_environment,
            reason=r.reason,
            waiting_for=[WaitOut.model_validate(w) for w in progress.waits],
        )


class WaiverIn(BaseModel):
    """Let one digest pass one evidence gate of the environment in the path, for a while."""

    model_config = ConfigDict(extra="forbid")

    image_digest: str = Field(pattern=DIGEST_PATTERN, description="The manifest digest.")
    gate: Literal["provenance", "scan", "tests"] = Field(description="The gate waived.")
    reason: Text = Field(description="Why; recorded with the waiver.")
    lasts: Period = Field(default=86400, description='How long it counts, e.g. "12h", "7d".')


class WaiverOut(FromRecord):
    """A waiver as recorded."""

    image_digest: str = Field(description="The digest it is for.")
    policy: str = Field(description="The gate waived.")
    reason: str = Field(description="Why.")
    granted_by: str = Field(description="The approver who granted it.")
    granted_at: datetime = Field(description="When.")
    expires_at: datetime = Field(description="When it stops counting.")


class ApprovalIn(BaseModel):
    """What the approver saw and approves: the digest and the evidence hash, exactly."""

    model_config = ConfigDict(extra="forbid")

    image_digest: str = Field(pattern=DIGEST_PATTERN, description="The deployment's digest.")
    evidence_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="The deployment's `evidence_sha256`."
    )
    comment: Text | None = Field(default=None, description="Recorded with the approval.")


class RejectionIn(BaseModel):
    """Why the deployment is rejected."""

    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(description="Recorded with the rejection.")


class RollbackIn(BaseModel):
    """Return a service to an earlier digest and pin it there."""

    model_config = ConfigDict(extra="forbid")

    service: Name = Field(description="The service.")
    reason: Text = Field(description="Why; recorded, and the pin's reason.")
    to_digest: str | None = Field(
        default=None, pattern=DIGEST_PATTERN, description="An earlier digest; default the previous."
    )


class RollbackOut(BaseModel):
    """How the rollback ended."""

    service: str = Field(description="The service.")
    from_digest: str = Field(description="What it ran before.")
    to_digest: str = Field(description="What it was returned to (and is pinned at).")
    outcome: str = Field(description="`converged`, `rolled_back` or `failed`.")
    message: str = Field(description="What the orchestrator said.")


class UnpinIn(BaseModel):
    """Release a pinned service."""

    model_config = ConfigDict(extra="forbid")

    service: Name = Field(description="The service.")
    reason: Text = Field(description="Why; recorded.")


class DriftOut(BaseModel):
    """One service that does not run as the ledger says, or that the ledger does not know."""

    service: str = Field(description="The service, or the swarm's name of an unknown one.")
    differences: list[str] = Field(
        description="`missing`, `image`, `replicas`, `labels`, `unknown`."
    )
    observed: dict[str, Any] | None = Field(description="What the swarm runs.")
    intended: dict[str, Any] | None = Field(description="What the ledger says should run.")
