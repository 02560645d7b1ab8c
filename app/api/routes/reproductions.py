"""`GET /api/images/{digest}/reproductions`: the latest reproduction verdicts of an image."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.schemas.supplychain import ReproductionOut
from app.deps import StoreDep
from app.inputs import CleanStr
from app.queries.reproductions import DEFAULT_LIMIT, MAX_LIMIT, latest_reproductions

router = APIRouter(prefix="/api", tags=["images"])

Digest = Annotated[
    CleanStr,
    Path(
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="The image id or a manifest digest it was pushed under, `sha256:<hex>`.",
    ),
]


@router.get("/images/{digest}/reproductions")
def get_reproductions(
    digest: Digest,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> list[ReproductionOut]:
    """The image's reproductions and their verdicts, newest request first."""
    found = latest_reproductions(store, digest, limit)
    return [ReproductionOut.model_validate(reproduction) for reproduction in found]
