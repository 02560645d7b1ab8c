"""Bad input to append gets a clear error naming the problem, and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import psycopg
import pytest

from app.database import Database
from events.catalogue import Event, Metadata
from events.errors import EventTooLarge, InvalidEvent, InvalidStreamName, UnknownEventType
from events.store import NO_STREAM, EventStore
from events.vocabulary import CATALOGUE, RunFailed, StepFinished
from tests.support.factories import ALICE, queued


class NotCatalogued(Event):
    """An event type nobody registered."""

    categories: ClassVar[tuple[str, ...]] = ("run",)
    note: str


@pytest.fixture(autouse=True)
def nothing_written(database: Database) -> Iterator[None]:
    yield
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    assert row == (0,), "a refused append wrote something"


def test_unknown_event_type_is_refused(store: EventStore) -> None:
    with pytest.raises(UnknownEventType, match="'NotCatalogued'"):
        store.append("run-1", [NotCatalogued(note="x")], NO_STREAM, ALICE)


def test_wrong_field_types_are_refused_naming_the_field(store: EventStore) -> None:
    forged = StepFinished.model_construct(
        step="build", exit_code="zero", duration_ms=1, log_sha256="a", log_lines=1
    )
    with pytest.raises(InvalidEvent, match="field exit_code"):
        store.append("run-1", [forged], NO_STREAM, ALICE)


def test_building_from_json_names_every_bad_field() -> None:
    with pytest.raises(InvalidEvent) as caught:
        CATALOGUE.build("StepFinished", {"step": 3, "exit_code": "0", "surprise": True})
    message = str(caught.value)
    for field in ("step", "exit_code", "duration_ms", "surprise"):
        assert f"field {field}" in message


def test_one_bad_event_in_a_batch_refuses_the_whole_batch(store: EventStore) -> None:
    forged = RunFailed.model_construct(reason=None)
    with pytest.raises(InvalidEvent, match="field reason"):
        store.append("run-1", [queued(), forged], NO_STREAM, ALICE)


def test_oversized_payload_is_refused_with_its_size(database: Database) -> None:
    with (
        EventStore(database.app_url, max_event_bytes=4096) as small,
        pytest.raises(EventTooLarge, match=r"is \d+ bytes .* limit is 4096"),
    ):
        small.append("run-1", [RunFailed(reason="x" * 5000)], NO_STREAM, ALICE)


def test_default_limit_is_one_mebibyte(store: EventStore) -> None:
    with pytest.raises(EventTooLarge, match="limit is 1048576"):
        store.append("run-1", [RunFailed(reason="x" * (1024 * 1024))], NO_STREAM, ALICE)


@pytest.mark.parametrize(
    ("stream", "reason"),
    [
        ("", "empty"),
        ("run", "no dash"),
        ("Run-1", "category"),
        ("run-", "id"),
        ("run-a b", "id"),
        ("run-" + "x" * 300, "longer than"),
    ],
)
def test_malformed_stream_names_are_refused(store: EventStore, stream: str, reason: str) -> None:
    with pytest.raises(InvalidStreamName, match=reason):
        store.append(stream, [queued()], NO_STREAM, ALICE)


def test_an_event_in_the_wrong_category_is_refused(store: EventStore) -> None:
    with pytest.raises(InvalidEvent, match="belongs in run-\\* streams"):
        store.append("env-production", [queued()], NO_STREAM, ALICE)


def test_event_classes_with_float_fields_cannot_join_a_catalogue() -> None:
    class Measured(Event):
        """Something with a float in it."""

        categories: ClassVar[tuple[str, ...]] = ("run",)
        seconds: float | None = None

    with pytest.raises(TypeError, match="float field"):
        CATALOGUE.register(Measured)
    assert "Measured" not in CATALOGUE


def test_text_with_a_nul_character_is_refused_before_postgresql_sees_it(
    store: EventStore,
) -> None:
    with pytest.raises(InvalidEvent, match="NUL character"):
        store.append("run-1", [RunFailed(reason="a\x00b")], NO_STREAM, ALICE)
    with pytest.raises(InvalidEvent, match="NUL character"):
        store.append("run-1", [queued()], NO_STREAM, Metadata(actor="eve\x00"))
