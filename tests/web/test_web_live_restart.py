"""The live timeline and a step's live log go on across a PostgreSQL restart, each row once.

A real server (uvicorn, projections followed) works on a PostgreSQL of the test's own
(tests/support/private_postgres.py), which is stopped and started again while a
browser-like client keeps both feeds open.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import Settings
from app.executor.logs import StepLogWriter
from app.services.access import Role
from events.catalogue import Metadata
from events.store import ANY, EventStore
from tests.support.access import bearer
from tests.support.factories import step_started
from tests.support.private_postgres import PrivateServer
from tests.support.web_server import serving
from tests.web.test_web_live import sse_events

META = Metadata(actor="alice", source="test")
RUN = "6e0c3a50-1b1f-4c53-9d0e-0a7f3c2b1d01"


@pytest.fixture
def server() -> Iterator[PrivateServer]:
    """An embedded PostgreSQL of this test's own."""
    private = PrivateServer().start()
    yield private
    private.close()


def test_live_feeds_resume_after_a_database_restart_without_missing_or_repeating(
    server: PrivateServer, tmp_path: Path
) -> None:
    database = server.database("live_restart")
    settings = Settings(
        home=tmp_path / "home", database_url=database.app_url, owner_database_url=database.owner_url
    )
    rows: list[dict[str, str]] = []
    lines: list[dict[str, str]] = []
    with serving(settings) as base, EventStore(database.app_url) as store:
        auth = bearer(store, "viewer", Role.VIEWER)
        timeline, log_feed = "/live/timeline?after=0:0", f"/live/runs/{RUN}/steps/s/log"
        feeds = [
            threading.Thread(target=lambda: rows.extend(sse_events(base, timeline, 6, auth))),
            threading.Thread(target=lambda: lines.extend(sse_events(base, log_feed, 6, auth))),
        ]
        for feed in feeds:
            feed.start()
        store.append(f"run-{RUN}", [step_started(f"before-{n}") for n in range(3)], ANY, META)
        log = StepLogWriter(database.app_url, RUN, "s", retry_seconds=60)
        log.write("one\ntwo\nthree\n")
        log.flush()
        server.restart(down_seconds=3)
        store.append(f"run-{RUN}", [step_started(f"after-{n}") for n in range(3)], ANY, META)
        log.write("four\nfive\nsix\n")  # the same writer, across the restart
        log.close()
        for feed in feeds:
            feed.join(timeout=90)
    names = [f"before-{n}" for n in range(3)] + [f"after-{n}" for n in range(3)]
    assert [next(n for n in names if n in row["data"]) for row in rows] == names
    assert [line["data"] for line in lines] == ["one", "two", "three", "four", "five", "six"]
