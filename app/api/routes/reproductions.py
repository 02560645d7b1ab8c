"""`GET /api/images/{digest}/reproductions`: the latest reproduction verdicts of an image."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from app.api.deps import StoreDep
from app.api.services.reproductions import DEFAULT_LIMIT, MAX_LIMIT, latest_reproductions

router = APIRouter(prefix="/api", tags=["images"])

Digest = Annotated[
    str,
    Path(
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="The image id or a manifest digest it was pushed under, `sha256:<hex>`.",
    ),
]


class FileDifferenceOut(BaseModel):
    path: str = Field(description="The path in the image's file system.")
    change: str = Field(description="`added`, `removed` or `changed`.")
    aspects: list[str] = Field(description="For `changed`: what differs.")
    original: str | None = Field(description="The original's entry, if any.")
    rebuilt: str | None = Field(description="The rebuild's entry, if any.")


class ReproductionOut(BaseModel):
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


@router.get("/images/{digest}/reproductions")
def get_reproductions(
    digest: Digest,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> list[ReproductionOut]:
    """The image's reproductions and their verdicts, newest request first."""
    found: list[dict[str, Any]] = [asdict(r) for r in latest_reproductions(store, digest, limit)]
    return [ReproductionOut.model_validate(row) for row in found]
