"""Bodies of the routes that record what other tools report: deployments and incidents."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas.base import DIGEST_PATTERN, Name, Sha, Text, UtcTime
from app.services.deployments import DeploymentStatus


def reported(**example: Any) -> ConfigDict:
    """A report's model config: unknown fields refused, `example` shown in the OpenAPI document."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


class DeploymentIn(BaseModel):
    """A deployment as another tool reports it."""

    model_config = reported(
        environment="production",
        service="web",
        image_digest="sha256:" + "ab" * 32,
        status="succeeded",
        commit="4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    )

    environment: Name = Field(description="The environment; its events go to `env-<name>`.")
    service: Name = Field(description="The service rolled out to.")
    image_digest: str = Field(
        pattern=DIGEST_PATTERN, description="The image rolled out, `sha256:<64 hex>`."
    )
    status: DeploymentStatus = Field(description="`started`, `succeeded` or `failed`.")
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


class IncidentIn(BaseModel):
    """An incident as another tool reports it: opened, resolved, or both."""

    model_config = reported(
        environment="production",
        service="web",
        summary="checkout answers 502 since the last rollout",
    )

    incident_id: Name = Field(
        default_factory=lambda: str(uuid4()),
        description="Identifies the incident (default: a new uuid); its stream is "
        "`incident-<id>`. Resend it to resolve the incident or to retry safely.",
    )
    environment: Name | None = Field(
        default=None, description="The environment affected (needed to open)."
    )
    service: Name | None = Field(default=None, description="The service affected (to open).")
    summary: Text | None = Field(default=None, description="What went wrong (needed to open).")
    caused_by_deployment: Name | None = Field(
        default=None, description="The `deployment_id` of the rollout that caused it."
    )
    resolved: bool = Field(default=False, description="True to record that it is resolved.")
    resolution: Text | None = Field(default=None, description="How it was resolved.")
    opened_at: UtcTime | None = Field(
        default=None, description="When it began (default: when it is recorded)."
    )
    resolved_at: UtcTime | None = Field(
        default=None,
        description="When it ended, with `resolved: true` (default: when it is recorded).",
    )


class RecordedOut(BaseModel):
    """Where the request's events are in the ledger."""

    positions: list[int] = Field(description="Ledger positions of the request's events.")
    replayed: bool = Field(description="True if they were all recorded before: nothing written.")


class DeploymentRecordedOut(RecordedOut):
    """A recorded deployment: its id and where its events are."""

    deployment_id: str


class IncidentRecordedOut(RecordedOut):
    """A recorded incident: its id and where its events are."""

    incident_id: str
