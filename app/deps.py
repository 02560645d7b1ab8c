"""HTTP dependencies both adapters draw on: the event store, the settings, the principal, as_of.

The HTTP API (app/api) and the pages (app/web) take these as `Annotated` aliases;
app/server.py puts what they read on `app.state` when the application starts.

`request_principal` is the single place where HTTP binds identity: from an
`Authorization: Bearer <token>` header, else from a signed-in session's cookie,
else nobody (`anonymous@<client address>`, no roles). Nothing a client can set
names the actor: a header such as `X-Shiplog-Actor` is ignored. A request that
changes something with a session cookie must carry the session's CSRF token (a
form field or the `X-CSRF-Token` header) and, if it says where it comes from
(Origin, Referer), come from this server. `require(*roles)` guards each write;
`read_access` guards every read unless public read is on. A refused write is
recorded (AccessDenied, rate-limited) before the refusal is answered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, NoReturn
from urllib.parse import urlsplit

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.credentials import SESSION_COOKIE, csrf_for, same_secret
from app.database import Database
from app.delivery.desk import Desk
from app.http_errors import error_json
from app.inputs import CleanStr
from app.queries.as_of import AsOfError, resolve_as_of
from app.queries.credentials import (
    Credential,
    CredentialRefused,
    session_credential,
    token_credential,
)
from app.services.access import (
    ROLE_NAMES,
    Forbidden,
    Principal,
    Role,
    anonymous,
    check,
    parse_roles,
    principal_for,
)
from app.services.delivery import open_desk
from app.services.deployments import Reporter
from app.services.idempotency import Namespace
from app.services.refusals import RefusalLimiter, record_refusal
from app.services.reported_times import TimeRules
from events.store import Cursor, EventStore

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


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


def client_address(request: Request) -> str | None:
    """The client's network address, as the server saw it."""
    return request.client.host if request.client is not None else None


def action_of(request: Request) -> str:
    """What a request does, in words an AccessDenied records: `POST /api/deployments`."""
    return f"{request.method} {request.url.path}"


def note_refusal(request: Request, refusal: Forbidden) -> None:
    """Record a refused write as AccessDenied (rate-limited); reads are refused unrecorded."""
    if request.method not in SAFE_METHODS:
        limiter: RefusalLimiter = request.app.state.refusals
        record_refusal(
            request_store(request),
            limiter,
            refusal,
            client=client_address(request),
            source="web" if "text/html" in request.headers.get("accept", "") else "api",
        )


def refuse(request: Request, refusal: Forbidden) -> NoReturn:
    """Record a refused write (rate-limited), then raise the refusal."""
    note_refusal(request, refusal)
    raise refusal


def _principal(credential: Credential) -> Principal:
    """The principal of a good credential; role names no longer known are dropped."""
    known = [name for name in credential.roles if name in ROLE_NAMES]
    return principal_for(credential.actor, parse_roles(known), credential.kind)


def _from_token(request: Request, header: str) -> Principal:
    """The principal of an `Authorization` header; refused if it is not a good bearer token."""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        reason = "the Authorization header must be `Bearer <token>`"
        refuse(
            request, Forbidden(anonymous(client_address(request)), (), action_of(request), reason)
        )
    try:
        credential = token_credential(request_store(request), token.strip())
    except CredentialRefused as error:
        nobody = anonymous(client_address(request))
        refuse(request, Forbidden(nobody, (), action_of(request), str(error)))
    return _principal(credential)


def same_origin(request: Request) -> bool:
    """False if the request says it comes from another origin (Sec-Fetch-Site, Origin, Referer).

    Another port of the same host is another origin but the same *site*, so a
    SameSite cookie does not stop its forms; these headers (which browsers set
    and pages cannot) do. A client that sends none of them is not a browser.
    """
    fetched_from = request.headers.get("sec-fetch-site")
    if fetched_from is not None and fetched_from not in ("same-origin", "none"):
        return False
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if claimed is None:
        return True
    return urlsplit(claimed).netloc.lower() == request.headers.get("host", "").lower()


async def submitted_csrf(request: Request) -> str:
    """The CSRF token a request carries: the header, else the form field."""
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in _FORM_TYPES:
            # Read (and so keep) the whole body first: form() alone would consume the
            # stream, and a page handler that parses the body itself could not read it.
            await request.body()
            value = (await request.form()).get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    return given or ""


# Declares the bearer token in the OpenAPI document (/docs offers "Authorize"); the
# header itself is read below, where a malformed one is refused with a reason.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token: `shiplog token create NAME --role ROLE` prints one.",
)


async def request_principal(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
) -> Principal:
    """Who is asking: a bearer token's name, a session's user, or an anonymous caller."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        principal = await run_in_threadpool(_from_token, request, authorization)
    else:
        principal = await _from_session(request)
    request.state.principal = principal
    return principal


async def _from_session(request: Request) -> Principal:
    """The signed-in principal of the session cookie, or anonymous; writes need its CSRF token."""
    secret = request.cookies.get(SESSION_COOKIE)
    nobody = anonymous(client_address(request))
    if not secret:
        return nobody
    credential = await run_in_threadpool(session_credential, request_store(request), secret)
    if credential is None:
        return nobody  # signed out, expired or revoked: as if there were no cookie
    principal = _principal(credential)
    request.state.csrf = csrf_for(secret)
    if request.method in SAFE_METHODS:
        return principal
    if not same_origin(request):
        reason = "the request comes from another site (Sec-Fetch-Site, Origin or Referer)"
    elif not same_secret(await submitted_csrf(request), request.state.csrf):
        reason = f"the request lacks this session's CSRF token ({CSRF_FIELD} or {CSRF_HEADER})"
    else:
        return principal
    refusal = Forbidden(principal, (), action_of(request), reason)
    await run_in_threadpool(refuse, request, refusal)
    raise refusal  # not reached: refuse raises


PrincipalDep = Annotated[Principal, Depends(request_principal)]


def require(*roles: Role) -> Callable[[Request, Principal], Principal]:
    """A dependency: the request's principal, if it holds one of `roles`; else refused."""

    def allowed(
        request: Request, principal: Annotated[Principal, Depends(request_principal)]
    ) -> Principal:
        try:
            return check(principal, action_of(request), *roles)
        except Forbidden as refusal:
            refuse(request, refusal)

    allowed.roles = roles  # type: ignore[attr-defined]  # the route table reads it
    return allowed


def anyone() -> None:
    """Marks the few writes anyone may make (signing in and out), which check what they need."""


anyone.roles = ()  # type: ignore[attr-defined]  # a deliberate rule: no role needed


def signed_by_forge() -> None:
    """Marks forges' webhooks: no token, the forge's signature of the body proves the sender."""


signed_by_forge.roles = ()  # type: ignore[attr-defined]  # proven by a signature, not a role


def read_access(
    request: Request, principal: Annotated[Principal, Depends(request_principal)]
) -> Principal:
    """Reads need `viewer` unless public read is on; writes are guarded by their `require`."""
    if request.method in SAFE_METHODS and not request_settings(request).public_read:
        check(principal, action_of(request), Role.VIEWER)
    return principal


def refusal_response(refusal: Forbidden) -> JSONResponse:
    """A refusal as the API answers it: 401 without a good credential, 403 without the role."""
    if refusal.principal.anonymous:
        challenge = 'Bearer realm="shiplog"'
        if refusal.needed == ():
            challenge += ', error="invalid_token"'
        return error_json(401, str(refusal), headers={"WWW-Authenticate": challenge})
    return error_json(403, str(refusal))


def reporter_of(principal: Principal, settings: Settings, source: str = "api") -> Reporter:
    """Who reports what a write records: the actor, its ids' namespace, the time rules."""
    times = TimeRules(skew=timedelta(seconds=settings.max_clock_skew))
    return Reporter(principal.actor, Namespace(principal.namespace), times, source)


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


def request_actor(principal: Annotated[Principal, Depends(request_principal)]) -> str:
    """The actor a write of this request records: the principal's, never a header."""
    return principal.actor


StoreDep = Annotated[EventStore, Depends(request_store)]
DeskDep = Annotated[Desk, Depends(request_desk)]
SettingsDep = Annotated[Settings, Depends(request_settings)]
DatabaseDep = Annotated[Database, Depends(request_database)]
ActorDep = Annotated[str, Depends(request_actor)]
AsOfDep = Annotated[Cursor | None, Depends(request_as_of)]
ReaderDep = Annotated[Principal, Depends(read_access)]
AnyoneDep = Annotated[None, Depends(anyone)]
ForgeSignedDep = Annotated[None, Depends(signed_by_forge)]
ViewerDep = Annotated[Principal, Depends(require(Role.VIEWER))]
OperatorDep = Annotated[Principal, Depends(require(Role.OPERATOR))]
DeployerDep = Annotated[Principal, Depends(require(Role.DEPLOYER, Role.INTEGRATION))]
# Moving an environment (deploy, promote, roll back, unpin) is a person's or a pipeline's
# deployer token; an integration reports what other tools did, it does not steer rollouts.
RolloutDep = Annotated[Principal, Depends(require(Role.DEPLOYER))]
ApproverDep = Annotated[Principal, Depends(require(Role.APPROVER))]
AdminDep = Annotated[Principal, Depends(require(Role.ADMIN))]
IntegrationDep = Annotated[Principal, Depends(require(Role.INTEGRATION, Role.DEPLOYER))]
IncidentReporterDep = Annotated[Principal, Depends(require(Role.OPERATOR, Role.INTEGRATION))]
READ_ACCESS = [Depends(read_access)]

_DETAIL = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {"detail": {"type": "string"}},
            "required": ["detail"],
        }
    }
}
CREDENTIAL_RESPONSE: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "No credential, or one that is not good (malformed, unknown, revoked, "
        "expired); `detail` says which.",
        "content": _DETAIL,
    },
}
ACCESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    **CREDENTIAL_RESPONSE,
    403: {"description": "The credential lacks the role this needs.", "content": _DETAIL},
}
"""What the guard answers, declared on every guarded route's document."""
