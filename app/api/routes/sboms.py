"""`GET /api/images/{digest}/sbom`: the SBOM resource of an image, byte for byte as stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response

from app.api.schemas.base import DIGEST_PATTERN
from app.deps import StoreDep
from app.inputs import CleanStr
from app.queries.supplychain import SbomNotFound, image_sbom

router = APIRouter(prefix="/api", tags=["supply chain"])

CYCLONEDX_JSON = "application/vnd.cyclonedx+json; version=1.6"


@router.get(
    "/images/{digest}/sbom",
    response_class=Response,
    responses={
        200: {"content": {CYCLONEDX_JSON: {}}, "description": "The SBOM, as stored."},
        404: {"description": "No SBOM is stored for this image."},
    },
)
def get_image_sbom(
    store: StoreDep,
    digest: Annotated[
        CleanStr,
        Path(
            pattern=DIGEST_PATTERN,
            description="The image id, or a manifest digest a run pushed it as, `sha256:<hex>`.",
        ),
    ],
) -> Response:
    """The image's CycloneDX 1.6 SBOM; its digest is in the `ETag` and `X-Shiplog-Sbom-Digest`."""
    try:
        stored = image_sbom(store, digest)
    except SbomNotFound as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    headers = {"ETag": f'"{stored.digest}"', "X-Shiplog-Sbom-Digest": stored.digest}
    return Response(stored.document, media_type=CYCLONEDX_JSON, headers=headers)
