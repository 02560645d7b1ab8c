"""The live feeds (server-sent events) over HTTP from a real server: filters, resumption, logs."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import pytest

from app.config import Settings
from app.executor.logs import StepLogWriter
from app.services.access import Role
from events.catalogue import Metadata
from events.store import ANY, EventStore
from tests.support.access import bearer
from tests.support.factories import queued, step_finished, step_started
from tests.support.web_server import serving

META = Metadata(actor="alice", source="test")
RUN = "6e0c3a50-1b1f-4c53-9d0e-0a7f3c2b1d00"


@pytest.fixture
def auth(store: EventStore) -> dict[str, str]:
    """The header of a viewer's token: the live feeds are pages, which need the role."""
    return bearer(store, "viewer", Role.VIEWER)


@pytest.fixture
def base(settings: Settings) -> Iterator[str]:
    """The URL of a real server (uvicorn, projections followed) on the test database."""
    with serving(settings) as url:
        yield url


def sse_events(base: str, path: str, count: int, headers: dict[str, str]) -> list[dict[str, str]]:
    """The first `count` server-sent events of `path` (type, id, data), then hang up."""
    found: list[dict[str, str]] = []
    event: dict[str, str] = {}
    with httpx.stream("GET", base + path, headers=headers, timeout=30) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if "data" in event:
                    found.append(event)
                    if len(found) == count:
                        return found
                event = {}
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data" and "data" in event:
                event["data"] += "\n" + value
            elif name in ("event", "id", "data"):
                event[name] = value
    return found


def test_the_live_timeline_sends_matching_events_only_and_resumes_after_last_event_id(
    store: EventStore, base: str, auth: dict[str, str]
) -> None:
    store.append("run-a", [queued(), step_started("build")], ANY, META)
    store.append("run-a", [step_finished("build", 1)], ANY, META)
    # The stream, not read_all: read_all stops at the horizon, which a transaction of
    # the server's projection follower may hold back for a moment.
    events = store.read_stream("run-a")
    got = sse_events(base, "/live/timeline?type=StepStarted&type=StepFinished&after=0:0", 2, auth)
    assert [e["event"] for e in got] == ["row", "row"]
    assert ["StepStarted" in got[0]["data"], "StepFinished" in got[1]["data"]] == [True, True]
    assert [e["id"] for e in got] == [str(events[1].cursor), str(events[2].cursor)]
    # A reconnecting browser sends the last id it saw: the feed goes on after it.
    store.append("run-a", [step_started("test")], ANY, META)
    [resumed] = sse_events(base, "/live/timeline?type=StepStarted&after=0:0", 1,
                           {"Last-Event-ID": got[0]["id"], **auth})  # fmt: skip
    assert resumed["id"] == str(store.read_stream("run-a")[-1].cursor)
    assert "test" in resumed["data"]


def test_the_live_log_sends_each_line_once_in_order_and_resumes(
    store: EventStore, base: str, auth: dict[str, str]
) -> None:
    with StepLogWriter(store.conninfo, RUN, "build") as log:
        log.write("one\ntwo\nthree\n")
    lines = sse_events(base, f"/live/runs/{RUN}/steps/build/log?after=1", 2, auth)
    assert [(e["event"], e["id"], e["data"]) for e in lines] == [
        ("line", "2", "two"),
        ("line", "3", "three"),
    ]
    [last] = sse_events(
        base, f"/live/runs/{RUN}/steps/build/log", 1, {"Last-Event-ID": "2", **auth}
    )
    assert last["data"] == "three"


def test_a_bad_last_event_id_is_a_400_naming_it(base: str, auth: dict[str, str]) -> None:
    headers = {"Last-Event-ID": "nope", **auth}
    response = httpx.get(base + "/live/timeline", headers=headers, timeout=30)
    assert response.status_code == 400
    assert "Last-Event-ID" in response.text
