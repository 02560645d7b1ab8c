"""HTTP dependencies both adapters draw on: the event store, the settings, the actor, as_of.

The HTTP API (app/api) and the pages (app/web) take these as `Annotated` aliases;
app/server.py puts what they read on `app.state` when the application starts.

`ActorDep` is the single place where HTTP binds identity. Every route that needs
to know who is asking, and every command that records a write, takes the actor
from it and from nowhere else. For now it trusts the `X-Shiplog-Actor` header (or
names the caller `anonymous@<client host>`); authenticated identities will replace
its body without changing any route.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError

from app.config import Settings
from app.database import Database
from app.delivery.desk import Desk
from app.inputs import CleanStr
from app.queries.as_of import AsOfError, resolve_as_of
from app.services.access import Principal, Role, check
from app.services.delivery import open_desk
from events.store import Cursor, EventStore

ACTOR_HEADER = "X-Shiplog-Actor"
MAX_ACTOR_LENGTH = 200
# What an actor may look like: alice, alice@example.com, ci:github/acme, bot+deploy@host.
_ACTOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+:/-]*")


def request_store(request: Request) -> EventStore:
    """The application's one event store, opened by the lifespan."""
    store: EventStore = request.app.state.store
    return store


def request_settings(request: Request) -> Settings:
    """The settings the application was created with."""
    settings: Settings = request.app.state.settings
    return settings


def request_database(request: Request) -> Database:
    """Where the application's database is (owner and application URLs)."""
    database: Database = request.app.state.database
    return database


def request_desk(request: Request) -> Desk:
    """The delivery desk: the environments file as it is now, the ledger, the swarms."""
    app = request.app
    return open_desk(
        app.state.settings, app.state.store, app.state.swarms, app.state.database.app_url
    )


def valid_actor(value: str) -> bool:
    """True if `value` is acceptable as an actor name in event metadata."""
    return len(value) <= MAX_ACTOR_LENGTH and _ACTOR.fullmatch(value) is not None


def request_actor(
    request: Request,
    x_shiplog_actor: Annotated[
        str | None,
        Header(
            alias=ACTOR_HEADER,
            description="Who is acting; ignored unless well-formed.",
        ),
    ] = None,
) -> str:
    """Who is making this request: the one place the API binds identity."""
    if x_shiplog_actor is not None and valid_actor(x_shiplog_actor):
        return x_shiplog_actor
    host = request.client.host if request.client is not None else "unknown"
    return f"anonymous@{host}"


def request_principal(request: Request, actor: Annotated[str, Depends(request_actor)]) -> Principal:
    """The principal of this request.

    Until the server authenticates credentials, every caller is trusted with every
    role under the actor it names, as before; routes already say which role each
    action needs (`require`), so authentication changes only this function.
    """
    return Principal(actor=actor, roles=frozenset(Role), credential="unauthenticated")


PrincipalDep = Annotated[Principal, Depends(request_principal)]


def require(*roles: Role) -> Callable[[Request, Principal], Principal]:
    """A dependency: the request's principal, if it holds one of `roles`; else 403."""

    def allowed(
        request: Request, principal: Annotated[Principal, Depends(request_principal)]
    ) -> Principal:
        return check(principal, f"{request.method} {request.url.path}", *roles)

    allowed.roles = roles  # type: ignore[attr-defined]  # the route table reads it
    return allowed


def request_as_of(
    request: Request,
    as_of: Annotated[
        CleanStr | None,
        Query(
            description="Answer from the events up to this point only: a ledger cursor "
            "`TX_ID:POSITION` or an ISO 8601 time (naive means UTC). Default: now."
        ),
    ] = None,
) -> Cursor | None:
    """The cursor the `as_of` query parameter stands for (None: now), or a 422 naming it."""
    try:
        return resolve_as_of(request_store(request), as_of)
    except AsOfError as error:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "as_of"), "msg": str(error), "input": as_of}]
        ) from None


StoreDep = Annotated[EventStore, Depends(request_store)]
DeskDep = Annotated[Desk, Depends(request_desk)]
SettingsDep = Annotated[Settings, Depends(request_settings)]
DatabaseDep = Annotated[Database, Depends(request_database)]
ActorDep = Annotated[str, Depends(request_actor)]
AsOfDep = Annotated[Cursor | None, Depends(request_as_of)]
ViewerDep = Annotated[Principal, Depends(require(Role.VIEWER))]
OperatorDep = Annotated[Principal, Depends(require(Role.OPERATOR))]
DeployerDep = Annotated[Principal, Depends(require(Role.DEPLOYER, Role.INTEGRATION))]
ApproverDep = Annotated[Principal, Depends(require(Role.APPROVER))]
AdminDep = Annotated[Principal, Depends(require(Role.ADMIN))]
IntegrationDep = Annotated[Principal, Depends(require(Role.INTEGRATION, Role.DEPLOYER))]
