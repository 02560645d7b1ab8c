"""Stream names: `category-id`, as in message-db (`run-<uuid>`, `env-production`)."""

from __future__ import annotations

import re

from events.errors import InvalidStreamName

MAX_STREAM_LENGTH = 200
_CATEGORY = re.compile(r"[a-z][a-z0-9_]*")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]*")


def category(stream: str) -> str:
    """The category of a stream: the text before its first dash."""
    return stream.split("-", 1)[0]


def validate_stream(stream: str) -> str:
    """Return `stream` unchanged if it is a well-formed `category-id` name, else raise."""
    if not isinstance(stream, str) or not stream:
        raise InvalidStreamName(str(stream), "it is empty")
    if len(stream) > MAX_STREAM_LENGTH:
        raise InvalidStreamName(stream, f"it is longer than {MAX_STREAM_LENGTH} characters")
    cat, sep, ident = stream.partition("-")
    if not sep:
        raise InvalidStreamName(stream, "expected category-id, e.g. run-<uuid> (no dash found)")
    if not _CATEGORY.fullmatch(cat):
        raise InvalidStreamName(
            stream, f"category {cat!r} must be lower-case letters, digits or _, starting a letter"
        )
    if not _ID.fullmatch(ident):
        raise InvalidStreamName(
            stream,
            f"id {ident!r} must start with a letter or digit and contain only "
            "letters, digits and . _ : @ / + -",
        )
    return stream


def stream_name(category_name: str, ident: str) -> str:
    """Build and validate the stream name for `ident` in `category_name`."""
    return validate_stream(f"{category_name}-{ident}")
