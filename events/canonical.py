"""The canonical bytes of an event, and its leaf hash.

An event's canonical form is the RFC 8785 (JSON Canonicalization Scheme)
serialisation, in UTF-8, of this object:

    {"data": <payload>, "event_id": "<uuid, lower-case>", "metadata": <metadata>,
     "recorded_at": "YYYY-MM-DDTHH:MM:SS.ffffffZ", "schema_version": <int>,
     "stream": "<category-id>", "type": "<EventType>", "version": <int>}

`position` and `tx_id` are assigned by the database and are not part of it: an
event's place in the ledger is fixed by its index in the sealed Merkle tree.
The stored `hash` is the RFC 6962 leaf hash of those bytes, SHA-256(0x00 || bytes)
(events.merkle.leaf_hash), so it is directly a leaf of the tree checkpoints sign.

RFC 8785 in pure Python costs ~20 µs per event. For the values events hold in
practice (no floats, integers within ±2**53, object keys without characters
outside the Basic Multilingual Plane) RFC 8785 output is byte for byte what
orjson prints with sorted keys (it escapes the same characters the same way, and
sorting by code point equals sorting by UTF-16 unit within the BMP), at a small
fraction of the cost, so that fast path is taken when the value qualifies;
anything else goes through the `rfc8785` library. Tests hold the two equal.

Appends build the canonical form from parts (`Envelope`): the metadata, stream
and time are the same for every event of a batch, so only each payload is
serialised per event, and the parts are joined in the document's key order.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
import rfc8785

_MAX_SAFE_INT = 2**53 - 1
# Sorted keys, and integers beyond ±2**53 refused (RFC 8785 cannot keep them exact).
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
# A UTF-8 lead byte of a character outside the Basic Multilingual Plane.
_NON_BMP = re.compile(rb"[\xf0-\xf4]")


def _fast_path_ok(value: Any) -> bool:
    """True when json.dumps would print exactly what RFC 8785 prints for `value`."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -_MAX_SAFE_INT <= item <= _MAX_SAFE_INT:
                continue
            return False
        if kind is dict:
            for key in item:
                # Keys sort the same by code point (json) and by UTF-16 unit (RFC 8785)
                # unless a key holds a character outside the Basic Multilingual Plane.
                if type(key) is not str or not (key.isascii() or max(key) <= "\uffff"):
                    return False
            stack.extend(item.values())
            continue
        if kind is list:
            stack.extend(item)
            continue
        return False  # floats and anything exotic: let the reference implementation decide
    return True


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical UTF-8 JSON of a JSON-compatible value."""
    if _fast_path_ok(value):
        return orjson.dumps(value, option=_ORJSON_OPTIONS)
    return bytes(rfc8785.dumps(value))


def canonical_payload(value: Any) -> bytes:
    """RFC 8785 canonical JSON of parsed JSON known to hold no float: an event's payload.

    The catalogue refuses event classes with float fields and validates strictly,
    so a checked payload holds strings, integers, booleans, nulls, lists and
    objects only. Skipping canonical_json's walk over the value is then safe:
    orjson refuses integers beyond ±2**53 itself, and a character outside the
    BMP (which may sort keys differently) is found in the output.
    """
    try:
        out = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return canonical_json(value)  # raises the reference implementation's error
    if out.isascii() or _NON_BMP.search(out) is None:
        return out
    return canonical_json(value)


def format_timestamp(moment: datetime) -> str:
    """A timestamp as canonical text: UTC, microseconds, `Z`."""
    if moment.tzinfo is None:
        raise ValueError("timestamps in the ledger must be timezone-aware")
    utc = moment.astimezone(UTC)
    if utc.year < 1000:  # strftime does not pad the year; isoformat would
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def event_document(
    *,
    stream: str,
    version: int,
    event_id: UUID,
    type_name: str,
    schema_version: int,
    data: dict[str, Any],
    metadata: dict[str, Any],
    recorded_at: datetime,
) -> dict[str, Any]:
    """The object whose canonical JSON is an event's canonical form."""
    return {
        "data": data,
        "event_id": str(event_id),
        "metadata": metadata,
        "recorded_at": format_timestamp(recorded_at),
        "schema_version": schema_version,
        "stream": stream,
        "type": type_name,
        "version": version,
    }


class Envelope:
    """The canonical forms of a batch's events, which share stream, metadata and time.

    `canonical(...)` returns exactly `canonical_json(event_document(...))`: the
    document's keys in sorted order, each value canonical, with the parts every
    event of the batch shares serialised once.
    """

    __slots__ = ("_after_id", "_after_schema")

    def __init__(self, stream: str, metadata: bytes, recorded_at: datetime) -> None:
        """`metadata` is the canonical form of the batch's metadata."""
        self._after_id = b"".join(
            (
                b'","metadata":',
                metadata,
                b',"recorded_at":"',
                format_timestamp(recorded_at).encode(),
                b'","schema_version":',
            )
        )
        # A lone string's canonical form is what orjson prints, whatever its characters.
        self._after_schema = b',"stream":' + orjson.dumps(stream) + b',"type":'

    def canonical(
        self, *, data: bytes, event_id: UUID, type_name: str, schema_version: int, version: int
    ) -> bytes:
        """The canonical form of one event, `data` being its canonical payload."""
        return b"".join(
            (
                b'{"data":',
                data,
                b',"event_id":"',
                str(event_id).encode(),
                self._after_id,
                b"%d" % schema_version,
                self._after_schema,
                orjson.dumps(type_name),
                b',"version":',
                b"%d" % version,
                b"}",
            )
        )
