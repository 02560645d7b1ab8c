"""`GET /api/whoami`: the actor this request would be recorded as."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import ActorDep

router = APIRouter(prefix="/api", tags=["identity"])


@router.get("/whoami")
def whoami(actor: ActorDep) -> dict[str, str]:
    """The actor the API binds to this request (what a write would record)."""
    return {"actor": actor}
