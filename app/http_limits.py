"""Request bodies capped as they arrive: a 413 before the application holds too much.

`BodyLimit` is a pure ASGI middleware in front of every route (app/server.py
installs it). A request whose Content-Length is over its route's limit is answered
413 at once and its body is never read. A body without a length (chunked) is
counted as it arrives; the moment it passes the limit the middleware answers 413
itself and tells the application the client has gone, so no handler ever holds
more than the limit, however the body is sent.

Limits go by route kind (the longest matching path prefix in BODY_LIMITS), since
what a route needs differs: a CDEvent may be large, a deployment report is small.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from html import escape

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KIB = 1024
MIB = 1024 * KIB
DEFAULT_BODY_LIMIT = 64 * KIB
"""Every route not named in BODY_LIMITS: JSON reports, forms, and routes that take no body."""
BODY_LIMITS: Mapping[str, int] = {
    # One CloudEvent; docs/cdevents.md.
    "/api/cdevents": 1 * MIB,
    # A forge's webhook delivery: GitHub caps its payloads at 25 MB; docs/webhooks.md.
    "/hooks/": 25 * MIB,
}
"""Path prefix → the largest body its routes accept, in bytes."""


def body_limit(path: str, limits: Mapping[str, int] = BODY_LIMITS) -> int:
    """The body limit of the route at `path`: its longest prefix in `limits`, else the default."""
    best, found = -1, DEFAULT_BODY_LIMIT
    for prefix, limit in limits.items():
        if path.startswith(prefix) and len(prefix) > best:
            best, found = len(prefix), limit
    return found


def _declared_length(scope: Scope) -> int | None:
    """The request's Content-Length; -1 when it is not one non-negative number."""
    values = [
        value for name, value in scope.get("headers", ()) if name.lower() == b"content-length"
    ]
    if not values:
        return None
    if len(set(values)) != 1 or not values[0].strip().isdigit():
        return -1
    return int(values[0])


class BodyLimit:
    """ASGI middleware: refuse a request body over its route's limit with 413, while it arrives."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: Mapping[str, int] = BODY_LIMITS,
        wants_page: Callable[[str], bool] = lambda path: False,
    ) -> None:
        self.app = app
        self.limits = limits
        self.wants_page = wants_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"], self.limits)
        declared = _declared_length(scope)
        if declared == -1:
            await self._answer(scope, send, 400, "the Content-Length header is not a number")
            return
        if declared is not None and declared > limit:
            await self._refuse(scope, send, limit)
            return
        received = 0
        over = started = refused = False

        async def counted() -> Message:
            nonlocal received, over, refused
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    if not started:  # else the answer is under way: only stop reading
                        refused = True
                        await self._refuse(scope, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def answered(message: Message) -> None:
            nonlocal started
            if refused:  # after the 413 the application's own answer goes nowhere
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, answered)
        except ClientDisconnect:
            if not over:  # a real disconnect; this one the middleware told the application
                raise

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        message = f"the request body is larger than {limit} bytes, the limit of {scope['path']}"
        await self._answer(scope, send, 413, message)

    async def _answer(self, scope: Scope, send: Send, status: int, message: str) -> None:
        """A small error answer, as JSON or (for a page) HTML, closing the connection."""
        if self.wants_page(scope["path"]):
            title = "Request too large" if status == 413 else "Bad request"
            body = (
                f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
                f"<title>{title} · shiplog</title>"
                f'<link rel="stylesheet" href="/static/shiplog.css"></head>'
                f'<body><main id="main"><h1>{status} {title}</h1><p>{escape(message)}</p>'
                f'<p><a href="/">Back to the timeline</a></p></main></body></html>\n'
            ).encode()
            content_type = b"text/html; charset=utf-8"
        else:
            body = json.dumps({"detail": message}).encode()
            content_type = b"application/json"
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
