"""`GET /api/whoami`: who this request is recorded as, and what it may do."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import PrincipalDep
from app.services.access import effective_roles

router = APIRouter(prefix="/api", tags=["identity"])


# The token is optional here: `{}` added to the list says one without it is answered too.
@router.get("/whoami", openapi_extra={"security": [{}]})
def whoami(principal: PrincipalDep) -> dict[str, object]:
    """The actor a write of this request would record, its roles and how it was proven.

    Anyone may ask (no role is needed): a caller without a good credential is
    `anonymous@<address>` with no roles.
    """
    return {
        "actor": principal.actor,
        "roles": sorted(role.value for role in effective_roles(principal.roles)),
        "credential": principal.credential,
    }
