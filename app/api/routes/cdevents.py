"""`POST /api/cdevents` imports a CDEvent (as a CloudEvent); `GET /api/cdevents` exports."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from app.api.params import DEFAULT_LIMIT, MAX_LIMIT, parse_cursor
from app.api.schemas.events import CloudEventImportOut, CloudEventPageOut
from app.cdevents.imports import IMPORTED_TYPES, Refused, from_binary
from app.deps import IntegrationDep, SettingsDep, StoreDep, reporter_of
from app.queries.cdevents import export_page
from app.services.cdevents import import_cloudevent

router = APIRouter(prefix="/api", tags=["cdevents"])

MAX_BODY_BYTES = 1024 * 1024
CONTENT_TYPES = ("application/cloudevents+json", "application/json")
BINARY_MODE_HEADER = "ce-specversion"  # with application/json: binary mode
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def location(path: str) -> list[str | int]:
    """A JSON path like `$.data.subject[0]` as a FastAPI error location under `body`."""
    parts: list[str | int] = ["body"]
    for name, index in _PATH_PART.findall(path):
        parts.append(int(index) if index else name)
    return parts


def refusal(error: Refused) -> RequestValidationError:
    """A 422 listing each problem with its JSON path and location."""
    details = []
    for problem in error.problems:
        detail: dict[str, Any] = {
            "type": error.kind,
            "loc": location(problem.path),
            "path": problem.path,
            "msg": problem.message,
        }
        if error.kind == "unsupported_type":
            detail["supported"] = list(IMPORTED_TYPES)
        details.append(detail)
    return RequestValidationError(details)


async def cloudevent_body(request: Request) -> Any:
    """The CloudEvent in structured form, or a 4xx saying why it is not one in JSON.

    Structured mode: the body is the CloudEvent. Binary mode (a `ce-specversion` header):
    the attributes are `ce-*` headers and the body is the CDEvent, its `data`.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in CONTENT_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"content type {content_type or '(none)'!r} is not accepted: send one CloudEvent in "
            "structured mode as application/cloudevents+json, or in binary mode as "
            "application/json with ce-* headers",
        )
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"body is larger than {MAX_BODY_BYTES} bytes"
        )
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"body is not JSON: {error}") from None
    except RecursionError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "body is nested too deeply") from None
    if content_type == "application/json" and BINARY_MODE_HEADER in request.headers:
        return from_binary(request.headers, body)
    return body


@router.post(
    "/cdevents",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"description": "This CloudEvent id and source are recorded with other content."},
        415: {"description": "Not a structured-mode CloudEvent in JSON."},
        422: {"description": "Refused by the CDEvents schema (each problem with its JSON path)."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {ctype: {"schema": {"type": "object"}} for ctype in CONTENT_TYPES},
        }
    },
)
async def post_cdevent(
    request: Request, store: StoreDep, settings: SettingsDep, who: IntegrationDep
) -> CloudEventImportOut:
    """Import one CDEvent sent as a CloudEvent; see docs/cdevents.md for what it records."""
    body = await cloudevent_body(request)
    try:
        by = reporter_of(who, settings, source="cdevents")
        imported = await run_in_threadpool(import_cloudevent, store, body, by)
    except Refused as error:
        raise refusal(error) from None
    return CloudEventImportOut(
        type=imported.type,
        stream=imported.stream,
        positions=imported.positions,
        replayed=imported.replayed,
    )


@router.get("/cdevents", response_model=CloudEventPageOut)
def get_cdevents(
    store: StoreDep,
    settings: SettingsDep,
    after: Annotated[
        str | None, Query(description="Cursor `tx_id:position` from a previous page's `next`.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> CloudEventPageOut:
    """The ledger's events that have a CDEvents counterpart, as CloudEvents, in ledger order."""
    page = export_page(store, parse_cursor(after, "after"), limit, settings.ledger_origin)
    return CloudEventPageOut(events=page.events, next=str(page.next), more=page.more)
