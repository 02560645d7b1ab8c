"""`/api/repositories`: register, list and remove the repositories whose webhooks start runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.api.schemas.repositories import (
    DeliveryOut,
    RepositoryIn,
    RepositoryOut,
    RepositoryRegisteredOut,
)
from app.deps import AdminDep, DatabaseDep, StoreDep
from app.queries.repositories import list_repositories, recent_deliveries
from app.services.repositories import RepositoryRequest, register_repository, remove_repository
from events.catalogue import Metadata

router = APIRouter(prefix="/api", tags=["repositories"])
SOURCE = "api"


@router.post("/repositories", status_code=status.HTTP_201_CREATED)
def post_repository(
    body: RepositoryIn, store: StoreDep, database: DatabaseDep, who: AdminDep
) -> RepositoryRegisteredOut:
    """Register a repository (admin); the webhook secret is answered once, when it is made."""
    request = RepositoryRequest(**body.model_dump())
    done = register_repository(
        store, database.app_url, request, Metadata(actor=who.actor, source=SOURCE)
    )
    repo = done.repository
    return RepositoryRegisteredOut(
        identity=repo.identity,
        forge=repo.forge,
        clone_url=repo.clone_url,
        credential=done.credential,
        webhook_path=f"/hooks/{repo.forge}",
        webhook_secret=done.webhook_secret,
    )


@router.get("/repositories")
def get_repositories(database: DatabaseDep) -> list[RepositoryOut]:
    """Every registered repository, without secrets."""
    return [RepositoryOut.model_validate(view) for view in list_repositories(database.app_url)]


@router.get("/repositories/deliveries")
def get_deliveries(
    database: DatabaseDep,
    repository: Annotated[
        str | None, Query(description="Only this repository's (its identity).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[DeliveryOut]:
    """The latest accepted webhook deliveries, newest first, and what became of each."""
    found = recent_deliveries(database.app_url, repository, limit)
    return [DeliveryOut.model_validate(item) for item in found]


@router.delete(
    "/repositories/{identity:path}",
    responses={404: {"description": "No such repository is registered."}},
)
def delete_repository(
    identity: str, store: StoreDep, database: DatabaseDep, who: AdminDep
) -> dict[str, str]:
    """Remove a registered repository (admin): its webhooks are refused from now on."""
    removed = remove_repository(
        store, database.app_url, identity, Metadata(actor=who.actor, source=SOURCE)
    )
    return {"removed": removed}
