"""The canonical form: RFC 8785 output, whichever path computes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
import rfc8785

from events.canonical import (
    Envelope,
    canonical_json,
    canonical_payload,
    event_document,
    format_timestamp,
)

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


# Payload values as events hold them: no floats (the catalogue refuses float fields).
PAYLOADS: list[Any] = [value for value in VALUES if "float" not in str(value)] + [
    {"astral_value": "\U0001f680", "keys": {"\U0001f680": 1, "\uffff": 2, "z": 3}},
    {"max": 2**53 - 1, "min": -(2**53 - 1), "zero": 0, "nested": {"b": [], "a": {}}},
    {"escapes": "\u007f\u0080\u2029</script>\ud7ff\ue000", "empty": ""},
]


@pytest.mark.parametrize("value", PAYLOADS)
def test_canonical_payload_equals_the_rfc8785_reference(value: Any) -> None:
    assert canonical_payload(value) == rfc8785.dumps(value)


def test_canonical_payload_refuses_integers_beyond_double_precision() -> None:
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical_payload({"n": -(2**53)})


@pytest.mark.parametrize(
    ("stream", "metadata", "moment"),
    [
        ("run-1", {"actor": "alice", "source": "shiplog"}, datetime(2026, 11, 27, tzinfo=UTC)),
        (
            "env-prodüction-\U0001f680",
            {"actor": "b\u00e9", "correlation_id": "x", "causation_id": "\U0001f680"},
            datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-5))),
        ),
        ("image-sha256:ab", {"actor": "c"}, datetime(999, 12, 31, 23, 59, tzinfo=UTC)),
    ],
)
def test_envelope_gives_the_canonical_form_of_the_whole_document(
    stream: str, metadata: dict[str, Any], moment: datetime
) -> None:
    envelope = Envelope(stream, canonical_json(metadata), moment)
    for version, data in enumerate(PAYLOADS[:3]):
        event_id = uuid4()
        document = event_document(
            stream=stream, version=version, event_id=event_id, type_name="StepFinished",
            schema_version=2, data=data, metadata=metadata, recorded_at=moment,
        )  # fmt: skip
        built = envelope.canonical(
            data=canonical_payload(data), event_id=event_id, type_name="StepFinished",
            schema_version=2, version=version,
        )  # fmt: skip
        assert built == rfc8785.dumps(document)


def test_timestamps_before_the_year_1000_keep_their_unpadded_form() -> None:
    moment = datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert format_timestamp(moment) == moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
