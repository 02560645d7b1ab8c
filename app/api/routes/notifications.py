"""`/api/notifications/targets`: where notifications go (admin); URLs' secret parts never shown."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from app.api.params import KEYSET_ANSWER, KeysetDep, keyset_page
from app.api.schemas.base import FromRecord, Name, Text
from app.api.schemas.writes import reported
from app.deps import AdminDep, DatabaseDep, StoreDep
from app.inputs import CleanStr
from app.queries.notifications import list_targets
from app.services.notifications import TargetRequest, add_target, remove_target
from events.catalogue import Metadata

router = APIRouter(prefix="/api/notifications", tags=["notifications"])


class TargetIn(BaseModel):
    """A notification target an admin registers."""

    model_config = reported(name="ops", kind="webhook", url="https://hooks.example.com/shiplog")

    name: Name = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$", description="As rules name it.")
    kind: Literal["slack", "webhook"] = Field(description="Slack incoming webhook, or JSON.")
    url: Text = Field(description="Where to POST; kept, never shown again (it may be a secret).")
    secrets: list[Text] = Field(
        default_factory=list, description="`whsec_` signing secrets (two while rotating)."
    )
    allow_private: bool = Field(
        default=False, description="Allow loopback and private addresses (refused by default)."
    )


class TargetOut(FromRecord):
    """A target as shown: the URL's origin only."""

    name: str
    kind: str
    origin: str
    signed: bool
    allow_private: bool
    disabled: str | None


@router.post("/targets", status_code=status.HTTP_201_CREATED)
def post_target(body: TargetIn, store: StoreDep, database: DatabaseDep, who: AdminDep) -> TargetOut:
    """Register (or replace) a target (admin)."""
    request = TargetRequest(body.name, body.kind, body.url, tuple(body.secrets), body.allow_private)
    add_target(store, database.app_url, request, Metadata(actor=who.actor, source="api"))
    (view,) = [t for t in list_targets(database.app_url) if t.name == body.name]
    return TargetOut.model_validate(view)


@router.get("/targets", responses=KEYSET_ANSWER)
def get_targets(database: DatabaseDep, response: Response, page: KeysetDep) -> list[TargetOut]:
    """The targets by name, without URLs' paths or secrets."""
    found = list_targets(database.app_url, after=page.after, limit=page.limit + 1)
    shown = keyset_page(found, page.limit, response, key=lambda view: view.name)
    return [TargetOut.model_validate(view) for view in shown]


@router.delete("/targets/{name}", responses={404: {"description": "No such target."}})
def delete_target(
    name: CleanStr, store: StoreDep, database: DatabaseDep, who: AdminDep
) -> dict[str, str]:
    """Remove a target (admin); what waits for it is dropped."""
    remove_target(store, database.app_url, name, Metadata(actor=who.actor, source="api"))
    return {"removed": name}
