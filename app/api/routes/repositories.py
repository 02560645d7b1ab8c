"""`/api/repositories`: register, list and remove the repositories whose webhooks start runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.api.params import KEYSET_ANSWER, KeysetDep, invalid_query, keyset_page
from app.api.schemas.repositories import (
    DeliveryOut,
    RepositoryIn,
    RepositoryOut,
    RepositoryRegisteredOut,
)
from app.deps import AdminDep, DatabaseDep, SettingsDep, StoreDep
from app.inputs import CleanStr
from app.queries.repositories import list_repositories, recent_deliveries
from app.services.errors import FieldProblem
from app.services.repositories import RepositoryRequest, register_repository, remove_repository
from events.catalogue import Metadata

router = APIRouter(prefix="/api", tags=["repositories"])
SOURCE = "api"


@router.post("/repositories", status_code=status.HTTP_201_CREATED)
def post_repository(
    body: RepositoryIn,
    store: StoreDep,
    database: DatabaseDep,
    settings: SettingsDep,
    who: AdminDep,
) -> RepositoryRegisteredOut:
    """Register a repository (admin); the webhook secret is answered once, when it is made."""
    request = RepositoryRequest(**body.model_dump())
    done = register_repository(
        store,
        database.app_url,
        request,
        Metadata(actor=who.actor, source=SOURCE),
        settings.keyring_path,
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


@router.get("/repositories", responses=KEYSET_ANSWER)
def get_repositories(
    database: DatabaseDep, response: Response, page: KeysetDep
) -> list[RepositoryOut]:
    """The registered repositories by identity, without secrets."""
    found = list_repositories(database.app_url, after=page.after, limit=page.limit + 1)
    shown = keyset_page(found, page.limit, response, key=lambda view: view.identity)
    return [RepositoryOut.model_validate(view) for view in shown]


@router.get("/repositories/deliveries")
def get_deliveries(
    database: DatabaseDep,
    repository: Annotated[
        CleanStr | None, Query(description="Only this repository's (its identity).")
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
    identity: CleanStr, store: StoreDep, database: DatabaseDep, who: AdminDep
) -> dict[str, str]:
    """Remove a registered repository (admin): its webhooks are refused from now on."""
    meta = Metadata(actor=who.actor, source=SOURCE)
    try:
        removed = remove_repository(store, database.app_url, identity, meta)
    except FieldProblem as problem:  # the identity travels in the path, not in a body
        raise invalid_query("identity", str(problem), identity, where="path") from None
    return {"removed": removed}
