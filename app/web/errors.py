"""Errors a page visitor can cause, shown as an HTML page (the API keeps its JSON errors)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.deps import SAFE_METHODS, refusal_response
from app.http_errors import error_json, validation_json
from app.inputs import printable
from app.services.access import Forbidden
from app.web.templating import render
from events.projections import ProjectionError

RETRY = {"Retry-After": "5"}
# Paths that answer JSON or text, never a page.
_MACHINE_PREFIXES = ("/api/", "/hooks/", "/openapi", "/docs", "/metrics", "/healthz", "/readyz")


class PageError(Exception):
    """A request a page cannot answer: its status and what was wrong, in words."""

    def __init__(self, status_code: int, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.parameter = parameter


class BadParameter(PageError):
    """A query parameter that cannot be used, naming it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(400, f"query parameter {parameter!r}: {message}", parameter)


class NotFound(PageError):
    """Nothing of that name or id is recorded."""

    def __init__(self, message: str) -> None:
        super().__init__(404, message)


def page_path(path: str) -> bool:
    """True when `path` is an HTML page's rather than the API's (or a probe's)."""
    return not path.startswith(_MACHINE_PREFIXES)


def wants_page(request: Request) -> bool:
    """True when `request` is for an HTML page rather than the API."""
    return page_path(request.url.path)


async def page_error(request: Request, error: Exception) -> Response:
    """A PageError as an HTML page with its status."""
    assert isinstance(error, PageError)
    context = {"status": error.status_code, "message": printable(error.message), "title": "Error"}
    return render(request, "error.html", context, status_code=error.status_code)


async def validation_error(request: Request, error: Exception) -> Response:
    """A request FastAPI refused: an HTML 400 page for pages, the usual 422 JSON for the API."""
    assert isinstance(error, RequestValidationError)
    if not wants_page(request):
        return validation_json(error)
    problems = [
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
        for problem in error.errors()
    ]
    context = {"status": 400, "message": printable("; ".join(problems)), "title": "Bad request"}
    return render(request, "error.html", context, status_code=400)


async def http_error(request: Request, error: Exception) -> Response:
    """404 and friends for pages as HTML; the API's as JSON, as before."""
    assert isinstance(error, StarletteHTTPException)
    if not wants_page(request):
        headers = getattr(error, "headers", None)
        if not is_body_allowed_for_status_code(error.status_code):
            return Response(status_code=error.status_code, headers=headers)
        return error_json(error.status_code, error.detail, headers)
    message = "no such page" if error.status_code == 404 else printable(str(error.detail))
    context = {"status": error.status_code, "message": message, "title": "Error"}
    return render(request, "error.html", context, status_code=error.status_code)


async def projection_missing(request: Request, error: Exception) -> Response:
    """A read model not built yet: 503 (try again shortly), as a page or as JSON."""
    if not wants_page(request):
        return error_json(503, str(error), RETRY)
    context = {"status": 503, "message": str(error), "title": "Not ready yet"}
    response = render(request, "error.html", context, status_code=503)
    response.headers.update(RETRY)
    return response


async def access_refused(request: Request, error: Exception) -> Response:
    """Not signed in: to the sign-in form (a page read) or 401; signed in without the role: 403."""
    assert isinstance(error, Forbidden)
    if not wants_page(request):
        return refusal_response(error)
    if error.principal.anonymous and request.method in SAFE_METHODS and error.needed:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?{urlencode({'next': target})}", status_code=303)
    status = 401 if error.principal.anonymous else 403
    context = {"status": status, "message": str(error), "title": "Not allowed"}
    return render(request, "error.html", context, status_code=status)


def install_page_errors(app: FastAPI) -> None:
    """Register the HTML error handlers on `app`."""
    app.add_exception_handler(Forbidden, access_refused)
    app.add_exception_handler(ProjectionError, projection_missing)
    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
