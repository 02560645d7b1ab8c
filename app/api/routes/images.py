"""`GET /api/images/{digest}` and `GET /api/images`: how images were made, and the reverse."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from app.api.params import invalid_query, parse_cursor
from app.api.schemas.images import ImageOut, ImageSummaryOut
from app.deps import AsOfDep, StoreDep
from app.inputs import CleanStr
from app.queries.images import (
    MAX_LIMIT,
    Page,
    find_image,
    images_from_commit,
    images_on_base,
    images_with_label,
)

router = APIRouter(prefix="/api", tags=["images"])

DIGEST = r"^sha256:[0-9a-f]{64}$"


@router.get("/images/{digest}", responses={404: {"description": "No such image (then)."}})
def get_image(digest: CleanStr, store: StoreDep, as_of: AsOfDep) -> ImageOut:
    """What an image (by image id or pushed manifest digest) was built from, and where it went."""
    facts = find_image(store, digest, as_of)
    if facts is None:
        when = "" if as_of is None else f" as of {as_of}"
        raise HTTPException(404, f"no image with id or pushed digest {digest!r} is recorded{when}")
    return ImageOut.model_validate(facts)


@router.get("/images")
def list_images(
    store: StoreDep,
    as_of: AsOfDep,
    commit: Annotated[
        CleanStr | None,
        Query(pattern=r"^[0-9a-fA-F]{7,64}$", description="Built from this commit (sha prefix)."),
    ] = None,
    base: Annotated[
        CleanStr | None,
        Query(pattern=DIGEST, description="Built on the base image with this digest."),
    ] = None,
    label: Annotated[
        CleanStr | None,
        Query(
            min_length=1,
            description="Carrying this label: `KEY` (any value) or `KEY=VALUE`.",
        ),
    ] = None,
    after: Annotated[
        CleanStr | None,
        Query(description="The `cursor` of the last image of the previous page (keyset)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = 100,
) -> list[ImageSummaryOut]:
    """Images built from a commit, on a base image digest, or carrying a label (give one).

    Oldest build first, a page at a time: pass the last item's `cursor` as `after`.
    """
    given = [
        name for name, value in (("commit", commit), ("base", base), ("label", label)) if value
    ]
    if len(given) != 1:
        parameter = "commit" if not given else given[1]
        raise invalid_query(parameter, "give exactly one of commit, base or label")
    page = Page(parse_cursor(after, "after") if after is not None else None, limit)
    if commit is not None:
        found = images_from_commit(store, commit, as_of, page)
    elif base is not None:
        found = images_on_base(store, base, as_of, page)
    else:
        assert label is not None
        key, has_value, value = label.partition("=")
        found = images_with_label(store, key, value if has_value else None, as_of, page)
    return [ImageSummaryOut.model_validate(item) for item in found]
