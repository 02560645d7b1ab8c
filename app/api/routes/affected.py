"""`GET /api/affected`: which images contain a package an advisory affects, or a given package."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.params import invalid_query
from app.api.schemas.supplychain import AffectedImageOut, AffectedOut
from app.deps import StoreDep
from app.inputs import CleanStr
from app.queries.supplychain import (
    AFFECTED_PAGE,
    MAX_AFFECTED_PAGE,
    BadPurl,
    images_affected_by,
    images_with_package,
)

router = APIRouter(prefix="/api", tags=["supply chain"])


@router.get(
    "/affected",
    response_model=AffectedOut,
    responses={503: {"description": "A projection has not caught up yet; retry shortly."}},
)
def get_affected(
    store: StoreDep,
    advisory: Annotated[
        CleanStr | None,
        Query(max_length=200, description="An advisory id or alias, e.g. `CVE-2024-1234`."),
    ] = None,
    purl: Annotated[
        CleanStr | None,
        Query(max_length=1000, description="A package URL; without a version, any version."),
    ] = None,
    after: Annotated[
        CleanStr | None, Query(max_length=200, description="`next` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_AFFECTED_PAGE)] = AFFECTED_PAGE,
) -> AffectedOut:
    """Images whose latest scan found `advisory`, or whose SBOM lists the package `purl`,

    with where they run now and since when (and where they ran before).
    """
    if (advisory is None) == (purl is None):
        raise invalid_query("advisory", "give exactly one of 'advisory' and 'purl'", advisory)
    if advisory is not None:
        images = images_affected_by(store, advisory, after=after, limit=limit + 1)
    else:
        assert purl is not None
        try:
            images = images_with_package(store, purl, after=after, limit=limit + 1)
        except BadPurl as error:
            raise invalid_query("purl", str(error), purl) from None
    following = images[limit - 1].image_digest if len(images) > limit else None
    return AffectedOut(
        images=[AffectedImageOut.model_validate(image) for image in images[:limit]],
        next=following,
    )
