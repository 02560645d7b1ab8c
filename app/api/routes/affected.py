"""`GET /api/affected`: which images contain a package an advisory affects, or a given package."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from app.api.deps import StoreDep
from app.api.services.supplychain import (
    AffectedImage,
    BadPurl,
    ImageFinding,
    images_affected_by,
    images_with_package,
)

router = APIRouter(prefix="/api", tags=["supply chain"])


class DeploymentOut(BaseModel):
    """A stretch of time during which a service of an environment ran the image."""

    environment: str
    service: str
    image_digest: str = Field(description="The image as the deployment named it.")
    since: datetime = Field(description="When the rollout (or rollback) that brought it ended.")
    until: datetime | None = Field(description="When another image replaced it; null: it runs.")
    running: bool = Field(description="True if the service runs it now.")
    deployment_id: str


class AffectedImageOut(BaseModel):
    """An image, the matching packages it holds, and what its latest scan found of them."""

    image_digest: str = Field(description="The image id, `sha256:<hex>`.")
    packages: list[str] = Field(description="Purls of the matching packages in the image.")
    findings: list[ImageFinding] = Field(description="The matching findings of its latest scan.")
    scanned_at: datetime | None = Field(description="When its latest scan was recorded.")
    advisory_set_digest: str | None = Field(description="The advisory set of that scan.")
    scan_stream: str | None = Field(description="The stream holding that ScanCompleted.")
    deployments: list[DeploymentOut] = Field(
        description="Where and since when it ran (from the deployments projection), by "
        "environment, service and time; `running` marks what runs now."
    )

    @classmethod
    def of(cls, image: AffectedImage) -> AffectedImageOut:
        """The response form of an affected image."""
        return cls(
            image_digest=image.image_digest,
            packages=image.packages,
            findings=image.findings,
            scanned_at=image.scanned_at,
            advisory_set_digest=image.advisory_set_digest,
            scan_stream=image.scan_stream,
            deployments=[
                DeploymentOut(
                    environment=d.environment,
                    service=d.service,
                    image_digest=d.image_digest,
                    since=d.since,
                    until=d.until,
                    running=d.running,
                    deployment_id=d.deployment_id,
                )
                for d in image.deployments
            ],
        )


class AffectedOut(BaseModel):
    """The images found, by image id."""

    images: list[AffectedImageOut]


def _refuse(parameter: str, message: str, value: str | None) -> RequestValidationError:
    detail = {"type": "value_error", "loc": ("query", parameter), "msg": message, "input": value}
    return RequestValidationError([detail])


@router.get(
    "/affected",
    response_model=AffectedOut,
    responses={503: {"description": "A projection has not caught up yet; retry shortly."}},
)
def get_affected(
    store: StoreDep,
    advisory: Annotated[
        str | None,
        Query(max_length=200, description="An advisory id or alias, e.g. `CVE-2024-1234`."),
    ] = None,
    purl: Annotated[
        str | None,
        Query(max_length=1000, description="A package URL; without a version, any version."),
    ] = None,
) -> AffectedOut:
    """Images whose latest scan found `advisory`, or whose SBOM lists the package `purl`,

    with where they run now and since when (and where they ran before).
    """
    if (advisory is None) == (purl is None):
        raise _refuse("advisory", "give exactly one of 'advisory' and 'purl'", advisory)
    if advisory is not None:
        images = images_affected_by(store, advisory)
    else:
        assert purl is not None
        try:
            images = images_with_package(store, purl)
        except BadPurl as error:
            raise _refuse("purl", str(error), purl) from None
    return AffectedOut(images=[AffectedImageOut.of(image) for image in images])
