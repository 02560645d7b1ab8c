"""Response bodies of the supply-chain and image routes: affected images, reproductions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.api.schemas.base import FromRecord


class ImageFindingOut(FromRecord):
    """One finding of an image's latest scan."""

    advisory: str
    aliases: list[str]
    package: str
    purl: str
    installed_version: str
    fixed_version: str | None
    severity: str | None


class DeployedStretchOut(FromRecord):
    """A stretch of time during which a service of an environment ran the image."""

    environment: str
    service: str
    image_digest: str = Field(description="The image as the deployment named it.")
    since: datetime = Field(description="When the rollout (or rollback) that brought it ended.")
    until: datetime | None = Field(description="When another image replaced it; null: it runs.")
    running: bool = Field(description="True if the service runs it now.")
    deployment_id: str


class AffectedImageOut(FromRecord):
    """An image, the matching packages it holds, and what its latest scan found of them."""

    image_digest: str = Field(description="The image id, `sha256:<hex>`.")
    packages: list[str] = Field(description="Purls of the matching packages in the image.")
    findings: list[ImageFindingOut] = Field(description="The matching findings of its latest scan.")
    scanned_at: datetime | None = Field(description="When its latest scan was recorded.")
    advisory_set_digest: str | None = Field(description="The advisory set of that scan.")
    scan_stream: str | None = Field(description="The stream holding that ScanCompleted.")
    deployments: list[DeployedStretchOut] = Field(
        description="Where and since when it ran (from the deployments projection), by "
        "environment, service and time; `running` marks what runs now."
    )


class AffectedOut(BaseModel):
    """A page of the images found, by image id."""

    images: list[AffectedImageOut]
    next: str | None = Field(
        default=None, description="Pass as `after` for the next page; null on the last."
    )


class FileDifferenceOut(BaseModel):
    """One path that differs between an image and its rebuild."""

    path: str = Field(description="The path in the image's file system.")
    change: str = Field(description="`added`, `removed` or `changed`.")
    aspects: list[str] = Field(description="For `changed`: what differs.")
    original: str | None = Field(description="The original's entry, if any.")
    rebuilt: str | None = Field(description="The rebuild's entry, if any.")


class ReproductionOut(FromRecord):
    """One reproduction of an image: who asked, when, and its verdict once there is one."""

    repro_id: str = Field(description="The reproduction's id (its stream is `repro-<id>`).")
    status: str = Field(description="`requested` (no verdict yet) or `completed`.")
    image_digest: str | None = Field(description="The image as it was asked for.")
    image_id: str | None = Field(description="The original image's id.")
    run_id: str | None = Field(description="The run whose recorded inputs were used.")
    step: str | None = Field(description="The build step that built the image.")
    actor: str | None = Field(description="Who asked for the reproduction.")
    requested_at: datetime | None = Field(description="When it was asked for.")
    verdict: str | None = Field(
        description="`identical`, `same-content`, `differs` or `cannot-reproduce`."
    )
    reason: str | None = Field(description="Why it could not be reproduced, if so.")
    rebuilt_image_id: str | None = Field(description="The rebuild's image id, if it was built.")
    layers_identical: bool | None = Field(description="Whether the layer diff ids are the same.")
    compared: list[str] = Field(description="What was compared.")
    files_compared: int | None = Field(description="Paths in the two file systems together.")
    differences: list[FileDifferenceOut] = Field(
        description="The paths that differ (the first 500 at most)."
    )
    differences_total: int | None = Field(description="How many paths differ in all.")
    config_differences: list[str] = Field(description="Image settings that differ.")
    duration_ms: int | None = Field(description="How long the reproduction took.")
    completed_at: datetime | None = Field(description="When the verdict was recorded.")
