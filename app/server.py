"""The composition root: `create_app()` builds the HTTP application; `shiplog serve` runs it.

It opens what both adapters share (the settings, the database, one event store)
on `app.state`, where app/deps.py finds them, mounts the HTTP API (app/api) and
the pages (app/web), and, when asked to follow, keeps every projection caught up
and does the queued work (webhook deliveries into runs, notifications, waiting
deployments, drift) in background threads while the application runs.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware

from app import api, web
from app.config import Settings, get_settings
from app.context import Context, prepare
from app.delivery.desk import Desk
from app.http_headers import SecurityHeaders
from app.http_limits import BodyLimit
from app.projections import projector
from app.services.delivery import delivery_worker, drift_worker, open_desk, swarm_pool
from app.services.notifications import notification_backoff, work_notifications
from app.services.refusals import RefusalLimiter
from app.services.triggers import work_deliveries
from events.store import EventStore


def _version() -> str:
    try:
        return version("shiplog")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


def background_workers(
    store: EventStore, context: Context, stop: threading.Event
) -> list[threading.Thread]:
    """The threads that do queued work until `stop`: webhook deliveries, notifications."""
    settings = context.settings
    return [
        threading.Thread(
            target=work_deliveries,
            args=(store, context.database.app_url, settings.home / "mirrors", stop),
            kwargs={"keyring": settings.keyring_path, "poll_seconds": settings.poll_interval},
            name="shiplog-webhooks",
            daemon=True,
        ),
        threading.Thread(
            target=work_notifications,
            args=(store, context.database.app_url),
            kwargs={
                "rules_file": settings.notify_rules,
                "public_url": settings.public_url,
                "backoff": notification_backoff(
                    settings.notify_attempts, settings.notify_retry_base, settings.notify_retry_cap
                ),
                "timeout": settings.notify_timeout,
                "stop": stop,
                "keyring": settings.keyring_path,
                "poll_seconds": settings.poll_interval,
            },
            name="shiplog-notify",
            daemon=True,
        ),
    ]


def delivery_workers(
    make_desk: Callable[[], Desk], settings: Settings, stop: threading.Event
) -> list[threading.Thread]:
    """The threads that take deliveries further until `stop`: waiting deployments, drift."""
    return [
        threading.Thread(
            target=delivery_worker,
            args=(make_desk, stop, settings.delivery_poll_interval, settings.whoami()),
            name="shiplog-delivery",
            daemon=True,
        ),
        threading.Thread(
            target=drift_worker,
            args=(make_desk, stop, settings.drift_interval, settings.whoami()),
            name="shiplog-drift",
            daemon=True,
        ),
    ]


def create_app(settings: Settings | None = None, *, follow: bool = False) -> FastAPI:
    """The shiplog HTTP application over the database `settings` name (migrated on start).

    With `follow`, a background thread keeps every projection caught up with the
    ledger while the application runs (what `shiplog serve` does), another takes
    waiting deployments further (approvals, soak, windows, expiry) and a third compares
    every environment's swarm with the ledger (drift); without it,
    projections move only when something else folds them (tests, `shiplog
    projections catch-up`, another server).
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = prepare(settings)
        store = EventStore(
            context.database.app_url,
            max_event_bytes=context.settings.max_event_bytes,
            retry_seconds=context.settings.database_retry,
        )
        app.state.database = context.database
        app.state.store = store
        app.state.live_feeds = web.open_live_feeds(store.conninfo, settings)
        app.state.swarms = swarm_pool()
        stop = threading.Event()

        def make_desk() -> Desk:
            return open_desk(settings, store, app.state.swarms, context.database.app_url)

        workers = [
            threading.Thread(
                target=projector(store).follow,
                args=(stop,),
                kwargs={"poll_seconds": settings.poll_interval},
                name="shiplog-projections",
                daemon=True,
            ),
            *background_workers(store, context, stop),
            *delivery_workers(make_desk, settings, stop),
        ]
        if follow:
            for worker in workers:
                worker.start()
        try:
            yield
        finally:
            stop.set()
            if follow:
                for worker in workers:
                    worker.join(timeout=10)
            await app.state.live_feeds.close()
            app.state.swarms.close()
            store.close()

    app = FastAPI(
        title="shiplog",
        summary="Container delivery pipelines, recorded as an immutable, tamper-evident ledger.",
        version=_version(),
        docs_url="/docs",
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.refusals = RefusalLimiter(settings.refusals_per_minute)
    # The Host header must name this server: a page on another name that DNS
    # rebinding points at this address is refused before any route runs.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    api.install_api(app)
    # The pages install last: their handlers for a projection not ready yet, a
    # malformed request and an HTTP error answer a page with HTML and leave the
    # API's paths the JSON FastAPI gives them.
    web.install_pages(app)
    # Added last, so outermost: every answer, a 413 included, carries the headers.
    app.add_middleware(BodyLimit, wants_page=web.page_path)
    app.add_middleware(SecurityHeaders)
    return app
