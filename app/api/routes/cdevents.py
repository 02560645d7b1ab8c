"""`POST /api/cdevents` imports a CDEvent (as a CloudEvent); `GET /api/cdevents` exports."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from app.api.params import DEFAULT_LIMIT, MAX_LIMIT, parse_cursor
from app.api.schemas.events import CloudEventImportOut, CloudEventPageOut
from app.cdevents.imports import Refused, from_binary, imported_types
from app.deps import IntegrationDep, SettingsDep, StoreDep, reporter_of
from app.inputs import CleanStr
from app.queries.cdevents import export_page
from app.services.cdevents import import_cloudevent

router = APIRouter(prefix="/api", tags=["cdevents"])

STRUCTURED = "application/cloudevents+json"
CONTENT_TYPES = (STRUCTURED, "application/json")
BINARY_MODE_HEADER = "ce-specversion"  # present: binary mode (the attributes are headers)
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
# A service.deployed CDEvent in structured mode, as the OpenAPI document shows it.
EXAMPLE: dict[str, Any] = {
    "specversion": "1.0",
    "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
    "source": "https://argocd.example.com/applications/web",
    "type": "dev.cdevents.service.deployed.0.3.0",
    "time": "2026-03-01T10:00:00Z",
    "datacontenttype": "application/json",
    "data": {
        "context": {
            "specversion": "0.5.1",
            "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
            "source": "https://argocd.example.com/applications/web",
            "type": "dev.cdevents.service.deployed.0.3.0",
            "timestamp": "2026-03-01T10:00:00Z",
        },
        "subject": {
            "id": "web",
            "content": {
                "environment": {"id": "production"},
                "artifactId": "pkg:oci/web@sha256%3A"
                + "ab" * 32
                + "?repository_url=registry.example.com/acme/web",
            },
        },
    },
}


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
            detail["supported"] = imported_types()
        details.append(detail)
    return RequestValidationError(details)


def _is_json(media_type: str) -> bool:
    """Whether a media type is JSON: `application/json` or any `+json` type."""
    return media_type in ("application/json", "text/json") or media_type.endswith("+json")


async def cloudevent_body(request: Request) -> Any:
    """The CloudEvent in structured form, or a 4xx saying why it is not one in JSON.

    As the CloudEvents HTTP binding says: `application/cloudevents+json` is structured
    mode (the body is the CloudEvent); `application/cloudevents-batch+json` is batch mode
    (not accepted); anything else with a `ce-specversion` header is binary mode (the
    attributes are `ce-*` headers, percent-decoded, and the body is the data), where a
    missing Content-Type means JSON. `application/json` without `ce-*` headers is also
    read as structured mode, for senders that label it so.
    """
    full_type = request.headers.get("content-type", "")
    content_type = full_type.split(";")[0].strip().lower()
    binary = BINARY_MODE_HEADER in request.headers and content_type != STRUCTURED
    if content_type.startswith("application/cloudevents-batch"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"content type {content_type!r} (batch mode) is not accepted: send one CloudEvent "
            "per request, in structured or binary mode",
        )
    if binary and content_type and not _is_json(content_type):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"content type {content_type!r} is not accepted: a CDEvent is JSON (send "
            "application/json, or no Content-Type, in binary mode)",
        )
    if not binary and content_type not in CONTENT_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"content type {content_type or '(none)'!r} is not accepted: send one CloudEvent in "
            "structured mode as application/cloudevents+json, or in binary mode with ce-* "
            "headers (application/json, or no Content-Type)",
        )
    raw = await request.body()  # at most BODY_LIMITS["/api/cdevents"]: app/http_limits.py
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"body is not JSON: {error}") from None
    except RecursionError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "body is nested too deeply") from None
    if binary:
        headers = {name.lower(): unquote(value) for name, value in request.headers.items()}
        return from_binary(headers, body, full_type.strip() or None)
    return body


@router.post(
    "/cdevents",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"description": "This CloudEvent id and source are recorded with other content."},
        413: {"description": "The body is over 1 MiB."},
        415: {"description": "Not a structured-mode CloudEvent in JSON."},
        422: {"description": "Refused by the CDEvents schema (each problem with its JSON path)."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                ctype: {"schema": {"type": "object"}, "example": EXAMPLE} for ctype in CONTENT_TYPES
            },
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
        CleanStr | None, Query(description="Cursor `tx_id:position` from a previous page's `next`.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> CloudEventPageOut:
    """The ledger's events that have a CDEvents counterpart, as CloudEvents, in ledger order."""
    page = export_page(store, parse_cursor(after, "after"), limit, settings.ledger_origin)
    return CloudEventPageOut(events=page.events, next=str(page.next), more=page.more)
