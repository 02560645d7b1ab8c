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


class NoteV1(Event):
    """A note, as first designed."""

    type_name: ClassVar[str] = "Note"
    categories: ClassVar[tuple[str, ...]] = ("run",)
    text: str


class NoteV2(Event):
    """A note, now perhaps with its author: an optional field, so version 1 reads as it is."""

    type_name: ClassVar[str] = "Note"
    schema_version: ClassVar[int] = 2
    categories: ClassVar[tuple[str, ...]] = ("run",)
    text: str
    author: str | None = None


class NoteV3(Event):
    """A note whose text is split into a title and a body: not additive."""

    type_name: ClassVar[str] = "Note"
    schema_version: ClassVar[int] = 3
    categories: ClassVar[tuple[str, ...]] = ("run",)
    title: str
    author: str | None = None


def test_an_additive_version_reads_an_older_payload_as_it_is_and_still_checks_it() -> None:
    notes = Catalogue([NoteV2])
    notes.additive("Note", from_version=1)

    assert notes.decode("Note", 1, '{"text": "hello"}') == NoteV2(text="hello")
    with pytest.raises(ValueError, match="text"):
        notes.decode("Note", 1, '{"text": 5}')  # validated strictly, as every read is


def test_a_chain_with_a_real_upcaster_after_an_additive_step_runs_the_upcaster() -> None:
    notes = Catalogue([NoteV3])
    notes.additive("Note", from_version=1)

    @notes.upcaster("Note", from_version=2)
    def _title(data: dict[str, Any]) -> dict[str, Any]:
        return {"title": data.pop("text"), **data}

    assert notes.decode("Note", 1, '{"text": "hello"}') == NoteV3(title="hello")
    assert notes.decode("Note", 2, '{"text": "hi", "author": "bo"}') == NoteV3(
        title="hi", author="bo"
    )


def test_an_upcaster_registered_after_a_read_is_used_by_the_next_read() -> None:
    notes = Catalogue([NoteV3])
    with pytest.raises(InvalidEvent, match="no upcaster from schema version 1"):
        notes.decode("Note", 1, '{"text": "hello"}')
    notes.additive("Note", from_version=1)

    @notes.upcaster("Note", from_version=2)
    def _title(data: dict[str, Any]) -> dict[str, Any]:
        return {"title": data.pop("text"), **data}

    assert notes.decode("Note", 1, '{"text": "hello"}') == NoteV3(title="hello")
    assert notes.decoder("Note", 1) is notes.decoder("Note", 1)  # worked out once per pair


def test_an_event_that_cannot_be_decoded_midway_through_a_streamed_page_is_a_clear_error(
    database: Database,
) -> None:
    with EventStore(database.app_url, catalogue=NEW) as new:
        for version in range(2500):  # many streamed chunks; the bad event in a middle one
            expected = NO_STREAM if version == 0 else version - 1
            event = GreetingV2(text=f"{version}", language="de")
            new.append("run-1", [event], expected, ALICE)
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        # As if a newer shiplog had written it: this code's version is older.
        conn.execute("ALTER TABLE events DISABLE TRIGGER events_reject_update_delete")
        conn.execute("UPDATE events SET schema_version = 3 WHERE version = 1500")
        conn.execute("ALTER TABLE events ENABLE ALWAYS TRIGGER events_reject_update_delete")
    with EventStore(database.app_url, catalogue=NEW, pool_size=1) as reader:
        with pytest.raises(InvalidEvent, match="stored schema version 3 is newer"):
            reader.read_all(limit=3000)
        # The one pooled connection is left usable: the rest of the stream was discarded.
        assert len(reader.read_all(limit=1500)) == 1500
        assert [e.version for e in reader.read_stream("run-1", 1501, 2)] == [1501, 1502]
