"""Live feeds share one LISTEN connection per process, are capped in all and per client, end idle.

A real server (uvicorn) with small caps; clients come from distinct loopback
addresses (127.0.0.2, 127.0.0.3, ...), as distinct machines would, each with a
viewer's token.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx2 as httpx
import psycopg
import pytest

from app.config import Settings
from app.database import Database
from app.services.access import Role
from app.web.live_feeds import APPLICATION_NAME
from events.catalogue import Metadata
from events.store import ANY, EventStore
from tests.support.access import bearer
from tests.support.factories import queued
from tests.support.web_server import serving

FEED = "/live/timeline?after=0:0"


@pytest.fixture
def capped(settings: Settings) -> Settings:
    """Settings with three feeds in all, two per client, and a short idle time-out."""
    return settings.model_copy(
        update={"live_feeds": 3, "live_feeds_per_client": 2, "live_idle_seconds": 2.0}
    )


@pytest.fixture
def viewer(store: EventStore) -> dict[str, str]:
    """The Authorization header of a viewer's token: the feeds are reads."""
    return bearer(store, "watcher", Role.VIEWER)


def client_at(address: str, headers: dict[str, str]) -> httpx.Client:
    """An HTTP client sending `headers` whose connections come from `address` (loopback)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(transport=transport, headers=headers, timeout=30)


@contextlib.contextmanager
def feed(client: httpx.Client, url: str) -> Iterator[httpx.Response]:
    """An open feed (its headers read, its body not), closed on leaving."""
    with client.stream("GET", url) as response:
        yield response


def listeners(database: Database) -> int:
    """How many connections of the live feeds' listener the server holds."""
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
            "AND datname = current_database()",
            (APPLICATION_NAME,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_more_feeds_than_the_caps_are_refused_with_503_and_a_closed_one_frees_its_place(
    capped: Settings, database: Database, viewer: dict[str, str]
) -> None:
    with (
        serving(capped) as base,
        client_at("127.0.0.2", viewer) as alice,
        client_at("127.0.0.3", viewer) as bob,
        client_at("127.0.0.4", viewer) as carol,
        contextlib.ExitStack() as open_feeds,
    ):
        for _ in range(2):
            response = open_feeds.enter_context(feed(alice, base + FEED))
            assert response.status_code == 200
        # A third from the same client: over the per-client cap.
        with feed(alice, base + FEED) as third:
            third.read()
            assert third.status_code == 503
            assert third.headers["Retry-After"].isdigit()
            assert "limit per client" in third.text
        # Another client may still open one: three in all.
        bobs = open_feeds.enter_context(feed(bob, base + FEED))
        assert bobs.status_code == 200
        # A fourth client: over the cap of the whole server.
        with feed(carol, base + FEED) as refused:
            refused.read()
            assert refused.status_code == 503
            assert "3 live feeds open, its limit" in refused.text
        # Three feeds, one LISTEN connection.
        assert listeners(database) == 1
        open_feeds.close()  # every feed ends: their places come back
        with feed(carol, base + FEED) as admitted:
            assert admitted.status_code == 200


def test_a_feed_that_sends_nothing_ends_after_the_idle_time_out_and_one_that_sends_goes_on(
    capped: Settings, store: EventStore, viewer: dict[str, str]
) -> None:
    store.append("run-a", [queued()], ANY, Metadata(actor="alice", source="test"))
    with serving(capped) as base, client_at("127.0.0.2", viewer) as alice:
        quiet = "/live/timeline?type=RunCancelled&after=0:0"
        with feed(alice, base + quiet) as response:
            assert response.status_code == 200
            # The stream ends by itself (only pings were sent): the read returns.
            assert "event: row" not in response.read().decode()
        with feed(alice, base + FEED) as response:
            lines = response.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: row"
