"""Security headers on every answer: a Content-Security-Policy, no framing, no sniffing.

The pages load only shiplog's own script and stylesheet from /static, open their
live feeds and fetches on the same origin, and submit forms to it; the policy
allows exactly that, so an injected script or a foreign frame has nowhere to run.
FastAPI's interactive API documentation (/docs, /redoc) loads Swagger UI and
ReDoc from their CDN with an inline start-up script, so those two pages get a
policy of their own that allows that and nothing more.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""Every answer's Content-Security-Policy, except the API documentation's."""
DOCS_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; connect-src 'self'; worker-src blob:; base-uri 'none'; "
    "frame-ancestors 'none'"
)
"""The Content-Security-Policy of /docs and /redoc (Swagger UI and ReDoc from their CDN)."""
DOCS_PATHS = ("/docs", "/redoc")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Same-origin requests keep their Referer; nothing leaks to other sites.
    "Referrer-Policy": "same-origin",
}


def content_security_policy(path: str) -> str:
    """The policy for the answer at `path`."""
    documentation = any(path == p or path.startswith(p + "/") for p in DOCS_PATHS)
    return DOCS_POLICY if documentation else PAGE_POLICY


class SecurityHeaders:
    """ASGI middleware: add the security headers to every HTTP answer that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = content_security_policy(scope["path"])

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", policy)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
