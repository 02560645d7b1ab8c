"""The canonical form: RFC 8785 output, whichever path computes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785

from events.canonical import canonical_json, format_timestamp

VALUES: list[Any] = [
    {"b": 1, "a": [True, False, None], "c": {"z": "", "y": -(2**53 - 1)}},
    {"unicode": "grüße \u2028 \U0001f680 \u00e9", "control": '\x00\x01\x1f\x7f\t\n\r\b\f"\\'},
    {"\u00e9": 1, "e": 2, "E": 3, "\u0100": 4},
    {"float": 1.5, "whole_float": 2.0, "tiny": 1e-7, "big": 1e21},
    {"astral_key_\U0001f680": 1, "\uffff": 2},
    [],
    {"nested": [[[{"deep": [1, 2, 3]}]]]},
]


@pytest.mark.parametrize("value", VALUES)
def test_canonical_json_equals_the_rfc8785_reference(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_integers_beyond_double_precision_are_refused() -> None:
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical_json({"n": 2**60})


def test_timestamps_are_utc_with_microseconds() -> None:
    moment = datetime(2026, 11, 27, 17, 0, 1, 5, tzinfo=timezone(timedelta(hours=1)))
    assert format_timestamp(moment) == "2026-11-27T16:00:01.000005Z"
    assert format_timestamp(moment.astimezone(UTC)) == "2026-11-27T16:00:01.000005Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2026, 1, 1))
