"""`as_of` values: a cursor is taken as is, a time becomes the longest prefix recorded by then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.queries.as_of import AsOfError, as_of_cursor, parse_as_of
from events.store import ANY, START, Cursor, EventStore
from tests.support.factories import ALICE, queued


def test_a_cursor_and_times_with_and_without_offsets_are_parsed() -> None:
    assert parse_as_of("812:40") == Cursor(812, 40)
    assert parse_as_of("2026-11-01T12:00:00Z") == datetime(2026, 11, 1, 12, tzinfo=UTC)
    assert parse_as_of("2026-11-01T13:00:00+01:00") == datetime(2026, 11, 1, 12, tzinfo=UTC)
    assert parse_as_of("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)  # naive: UTC


@pytest.mark.parametrize("text", ["yesterday", "12:", ":5", "1:2:3", "", f"{2**64}:1"])
def test_anything_else_is_refused_saying_what_is_expected(text: str) -> None:
    with pytest.raises(AsOfError, match=r"as_of|cursor"):
        parse_as_of(text)


def test_a_time_becomes_the_cursor_of_the_last_event_recorded_by_then(store: EventStore) -> None:
    for n in range(3):
        store.append(f"run-{n}", [queued(str(n) * 40)], ANY, ALICE)
    first, second, third = store.read_all()
    assert as_of_cursor(store, second.recorded_at) == second.cursor
    assert as_of_cursor(store, third.recorded_at - timedelta(microseconds=1)) == second.cursor
    assert as_of_cursor(store, first.recorded_at - timedelta(microseconds=1)) == START
    assert as_of_cursor(store, third.recorded_at + timedelta(days=1)) == third.cursor
    assert as_of_cursor(store, Cursor(5, 7)) == Cursor(5, 7)  # a cursor is taken as is
