"""The web timeline: HTML pages, live feeds (server-sent events) and /metrics beside the API.

`install_pages(app)` adds the page routers, the static files and the HTML error pages to
the FastAPI application; every page but the sign-in form needs the `viewer` role
(unless public read is on). Page handlers are thin: they parse the query string
(params.py), ask app/queries directly or through a view model under views/, and
render a template from templates/.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.deps import ACCESS_RESPONSES, READ_ACCESS
from app.web.errors import install_page_errors, page_path
from app.web.live_feeds import open_live_feeds
from app.web.routes import (
    delivery,
    environments,
    images,
    ledger,
    live,
    metrics,
    repositories,
    runs,
    search,
    signin,
    timeline,
    velocity,
)
from app.web.templating import STATIC_DIR

__all__ = ["install_pages", "open_live_feeds", "page_path"]


def install_pages(app: FastAPI) -> None:
    """Add the web pages, their static files and HTML error pages to `app`."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(signin.router)  # anyone may sign in
    for module in (
        timeline,
        live,
        runs,
        images,
        environments,
        delivery,
        repositories,
        velocity,
        ledger,
        search,
        metrics,
    ):
        app.include_router(module.router, dependencies=READ_ACCESS, responses=ACCESS_RESPONSES)
    install_page_errors(app)
