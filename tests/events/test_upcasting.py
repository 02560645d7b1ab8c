"""Events stored under an older schema version are upcast when read, and never rewritten."""

from __future__ import annotations

from typing import Any, ClassVar

import psycopg
import pytest

from app.database import Database
from events.catalogue import Catalogue, Event
from events.errors import InvalidEvent
from events.store import NO_STREAM, EventStore
from tests.support.factories import ALICE


class GreetingV1(Event):
    """A greeting, as first designed."""

    type_name: ClassVar[str] = "Greeting"
    categories: ClassVar[tuple[str, ...]] = ("run",)
    text: str


class GreetingV2(Event):
    """A greeting, now with the language it is in."""

    type_name: ClassVar[str] = "Greeting"
    schema_version: ClassVar[int] = 2
    categories: ClassVar[tuple[str, ...]] = ("run",)
    text: str
    language: str


OLD = Catalogue([GreetingV1])
NEW = Catalogue([GreetingV2])


@NEW.upcaster("Greeting", from_version=1)
def _add_language(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "language": "en"}


def test_old_events_read_back_upcast_and_stay_stored_as_written(database: Database) -> None:
    with EventStore(database.app_url, catalogue=OLD) as old:
        old.append("run-1", [GreetingV1(text="hello")], NO_STREAM, ALICE)
    with EventStore(database.app_url, catalogue=NEW) as new:
        new.append("run-1", [GreetingV2(text="hallo", language="de")], 0, ALICE)
        events = new.read_stream("run-1")

    assert [e.data for e in events] == [
        GreetingV2(text="hello", language="en"),
        GreetingV2(text="hallo", language="de"),
    ]
    assert [e.schema_version for e in events] == [1, 2]
    with psycopg.connect(database.owner_url) as conn:
        stored = conn.execute("SELECT data FROM events ORDER BY position LIMIT 1").fetchone()
    assert stored == ({"text": "hello"},)


def test_a_missing_upcaster_is_a_clear_error(database: Database) -> None:
    with EventStore(database.app_url, catalogue=OLD) as old:
        old.append("run-1", [GreetingV1(text="hello")], NO_STREAM, ALICE)
    with (
        EventStore(database.app_url, catalogue=Catalogue([GreetingV2])) as reader,
        pytest.raises(InvalidEvent, match="no upcaster from schema version 1 to 2"),
    ):
        reader.read_stream("run-1")


def test_deployment_and_incident_events_of_schema_version_1_read_as_version_2() -> None:
    from events.vocabulary import CATALOGUE, DeploymentStarted, IncidentResolved

    started = CATALOGUE.decode(
        "DeploymentStarted",
        1,
        '{"deployment_id": "d1", "service": "web", "image_digest": "sha256:00", '
        '"strategy": "rolling", "run_id": null}',
    )
    assert isinstance(started, DeploymentStarted)
    assert (started.started_at, started.commit, started.repository) == (None, None, None)
    resolved = CATALOGUE.decode("IncidentResolved", 1, '{"resolution": "rolled back"}')
    assert isinstance(resolved, IncidentResolved)
    assert resolved.resolved_at is None
