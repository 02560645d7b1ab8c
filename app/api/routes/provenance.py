"""`GET /api/images/{digest}/provenance|attestation`: an image's SLSA provenance, bare or signed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response, status

from app.deps import AsOfDep, StoreDep
from app.inputs import CleanStr
from app.provenance.dsse import IN_TOTO_PAYLOAD_TYPE
from app.provenance.slsa import statement_bytes
from app.queries.provenance import ImageNotFound, attestation, provenance

router = APIRouter(prefix="/api/images", tags=["provenance"])

DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
Digest = Annotated[
    CleanStr,
    Path(
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="The image id or a manifest digest it was pushed as, `sha256:<64 hex>`.",
    ),
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such image (at that moment), or it was never signed."}
}


@router.get(
    "/{digest}/provenance",
    responses={200: {"content": {IN_TOTO_PAYLOAD_TYPE: {}}}, **NOT_FOUND},
)
def get_provenance(store: StoreDep, digest: Digest, as_of: AsOfDep) -> Response:
    """The image's in-toto Statement v1 with SLSA Provenance v1, as canonical JSON."""
    try:
        body = statement_bytes(provenance(store, digest, as_of))
    except ImageNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    return Response(body, media_type=IN_TOTO_PAYLOAD_TYPE)


@router.get(
    "/{digest}/attestation",
    responses={200: {"content": {DSSE_MEDIA_TYPE: {}}}, **NOT_FOUND},
)
def get_attestation(store: StoreDep, digest: Digest) -> Response:
    """The DSSE envelope (ed25519) of the image's provenance, exactly as the runner stored it."""
    try:
        envelope = attestation(store, digest)
    except ImageNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    return Response(envelope, media_type=DSSE_MEDIA_TYPE)
