"""The event catalogue: typed, frozen event classes, their schema versions and upcasters.

Every event type is a pydantic model subclassing `Event`, with a `type_name`, a
`schema_version`, the `categories` of stream it may be appended to, typed fields
and a one-line docstring. A `Catalogue` is the contract between writers and
readers: append refuses a type it does not hold, and read turns stored rows back
into these classes, upcasting rows written under an older schema version on the
way (the stored row itself is never rewritten).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, NamedTuple

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from events.canonical import canonical_payload
from events.errors import InvalidEvent, UnknownEventType

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
# A stored payload's JSON text (or bytes) to its event at the current schema version.
Decoder = Callable[[str | bytes], "Event"]

# PostgreSQL's jsonb cannot hold U+0000, so text containing it is refused up front
# with a clear error instead of failing inside the INSERT.
NUL_IN_JSON = "\\u0000"
NUL_PROBLEM = "text must not contain the NUL character (U+0000): PostgreSQL cannot store it"


class Event(BaseModel):
    """Base of every event payload; subclasses document themselves with one docstring line."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    type_name: ClassVar[str]
    schema_version: ClassVar[int] = 1
    categories: ClassVar[tuple[str, ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type_name" not in cls.__dict__:
            cls.type_name = cls.__name__

    @classmethod
    def doc(cls) -> str:
        """The first line of the class docstring: what this event records."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


class Metadata(BaseModel):
    """Who and what caused an event: carried beside the payload, hashed with it."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    actor: str
    source: str = "shiplog"
    correlation_id: str | None = None
    causation_id: str | None = None
    # For events imported from a CloudEvent: its identity, which the export gives back.
    cloudevent_source: str | None = None
    cloudevent_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-compatible form, without unset optional fields."""
        return self.model_dump(mode="json", exclude_none=True)


def _mentions_float(model: type[BaseModel]) -> bool:
    """True if any field of `model`, or of a record nested in it, can hold a float."""
    pending: list[Any] = [field.annotation for field in model.model_fields.values()]
    while pending:
        annotation = pending.pop()
        if annotation is float:
            return True
        pending.extend(typing.get_args(annotation))
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            pending.extend(field.annotation for field in annotation.model_fields.values())
    return False


def _problems(error: ValidationError) -> list[str]:
    out = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "(payload)"
        out.append(f"field {where}: {item['msg']}")
    return out


class CheckedEvent(NamedTuple):
    """An event ready to be appended: its class, its JSON payload, that payload as text,
    and its canonical (RFC 8785) bytes."""

    cls: type[Event]
    payload: dict[str, Any]
    text: str
    canonical: bytes


class Catalogue:
    """A registry of event classes by type name, with upcasters for old schema versions."""

    def __init__(self, classes: Iterable[type[Event]] = ()) -> None:
        self._classes: dict[str, type[Event]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._additive: set[tuple[str, int]] = set()
        # (type, stored version) -> how to decode it; emptied whenever the catalogue changes.
        self._decoders: dict[tuple[str, int], Decoder] = {}
        for cls in classes:
            self.register(cls)

    def register(self, cls: type[Event]) -> type[Event]:
        """Add an event class; usable as a decorator."""
        if not cls.__doc__ or not cls.doc():
            raise TypeError(f"event class {cls.__name__} needs a one-line docstring")
        if not getattr(cls, "categories", None):
            raise TypeError(f"event class {cls.__name__} must name the stream categories it uses")
        if _mentions_float(cls):
            raise TypeError(
                f"event class {cls.__name__} has a float field: use integers (milliseconds, "
                "bytes, basis points), since floats do not survive jsonb and canonical JSON "
                "byte for byte"
            )
        if cls.type_name in self._classes and self._classes[cls.type_name] is not cls:
            raise TypeError(f"event type {cls.type_name!r} is registered twice")
        self._classes[cls.type_name] = cls
        self._decoders.clear()
        return cls

    def upcaster(self, type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function turning `type_name` data at `from_version` into the next version."""

        def decorate(func: Upcaster) -> Upcaster:
            self._upcasters[(type_name, from_version)] = func
            self._decoders.clear()
            return func

        return decorate

    def categories(self) -> list[str]:
        """Every stream category some event type may be appended to, in name order."""
        return sorted({category for cls in self._classes.values() for category in cls.categories})

    def additive(self, type_name: str, from_version: int) -> None:
        """Declare that version `from_version` + 1 of `type_name` only added optional fields
        (or allowed null where a value was required), so the older payload reads as the
        newer one unchanged: it is validated as stored, without being parsed and printed."""
        self.upcaster(type_name, from_version)(_as_it_is)
        self._additive.add((type_name, from_version))
        self._decoders.clear()

    def _verbatim(self, type_name: str, schema_version: int, current: int) -> bool:
        """Whether every step from `schema_version` to `current` is additive."""
        return all((type_name, v) in self._additive for v in range(schema_version, current))

    def __iter__(self) -> Iterator[type[Event]]:
        return iter(sorted(self._classes.values(), key=lambda cls: cls.type_name))

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._classes

    def get(self, type_name: str) -> type[Event]:
        """The class for `type_name`, or UnknownEventType."""
        try:
            return self._classes[type_name]
        except KeyError:
            raise UnknownEventType(type_name) from None

    def check(self, event: Event, stream_category: str) -> CheckedEvent:
        """Check an event about to be appended; return its class and JSON payload.

        The payload is validated again from its JSON form, so what is stored is
        exactly what will read back, even for an instance built without
        validation (`model_construct`).
        """
        if not isinstance(event, Event):
            raise InvalidEvent(type(event).__name__, ["not an Event instance"])
        cls = self.get(type(event).type_name)
        if type(event) is not cls:
            raise UnknownEventType(type(event).type_name)
        if stream_category not in cls.categories:
            allowed = ", ".join(f"{c}-*" for c in cls.categories)
            raise InvalidEvent(
                cls.type_name,
                [f"it belongs in {allowed} streams, not in category {stream_category!r}"],
            )
        try:
            text = event.model_dump_json(warnings=False)
            validated = cls.model_validate_json(text, strict=True)
        except (ValidationError, TypeError, ValueError) as error:
            problems = _problems(error) if isinstance(error, ValidationError) else [str(error)]
            raise InvalidEvent(cls.type_name, problems) from None
        if NUL_IN_JSON in text:
            raise InvalidEvent(cls.type_name, [NUL_PROBLEM])
        # The validated copy's JSON-mode dump is the text's content as Python values
        # (the same serializer made both), without parsing the text again.
        payload = validated.model_dump(mode="json")
        return CheckedEvent(cls, payload, text, canonical_payload(payload))

    def build(self, type_name: str, data: dict[str, Any]) -> Event:
        """Build an event of `type_name` from JSON data at the current schema version."""
        cls = self.get(type_name)
        try:
            return cls.model_validate_json(json.dumps(data), strict=True)
        except ValidationError as error:
            raise InvalidEvent(type_name, _problems(error)) from None

    def decode(self, type_name: str, schema_version: int, raw: str | bytes) -> Event:
        """Turn a stored payload (JSON text) back into its class, upcasting older versions."""
        decoder = self._decoders.get((type_name, schema_version))
        if decoder is None:
            decoder = self.decoder(type_name, schema_version)
        return decoder(raw)

    def decoder(self, type_name: str, schema_version: int) -> Decoder:
        """How payloads of `type_name` stored at `schema_version` are decoded (kept per pair).

        Reads decode every event of the ledger, and almost all of them are of a few
        (type, version) pairs: working out the class and the upcast chain once per
        pair leaves the strict validation itself as the per-event cost.
        """
        key = (type_name, schema_version)
        found = self._decoders.get(key)
        if found is not None:
            return found
        cls = self.get(type_name)
        if schema_version > cls.schema_version:
            raise InvalidEvent(
                type_name,
                [
                    f"stored schema version {schema_version} is newer than this code's "
                    f"{cls.schema_version}; upgrade shiplog"
                ],
            )
        steps: list[Upcaster] = []
        for version in range(schema_version, cls.schema_version):
            step = self._upcasters.get((type_name, version))
            if step is None:
                raise InvalidEvent(
                    type_name, [f"no upcaster from schema version {version} to {version + 1}"]
                )
            steps.append(step)
        if self._verbatim(type_name, schema_version, cls.schema_version):
            found = _strict_decoder(cls)
        else:
            found = _upcasting_decoder(cls, steps)
        self._decoders[key] = found
        return found


def _strict_decoder(cls: type[Event]) -> Decoder:
    """Validate stored JSON as `cls`, strictly, as every read does.

    The model's validator called directly is what `cls.model_validate_json(raw,
    strict=True)` runs, without its Python wrapper per event.
    """
    validate = cls.__pydantic_validator__.validate_json

    def decode(raw: str | bytes) -> Event:
        event: Event = validate(raw, strict=True)
        return event

    return decode


def _upcasting_decoder(cls: type[Event], steps: list[Upcaster]) -> Decoder:
    """Parse stored JSON, run the upcasters in order, and validate the result as `cls`."""
    strict = _strict_decoder(cls)

    def decode(raw: str | bytes) -> Event:
        # orjson at a fraction of json's cost: reads of a ledger older than the code
        # take this path for most events. It gives the same values as json for every
        # stored payload: append validated each one, and canonical JSON refused
        # floats and integers beyond 2**53 (where orjson would differ: it reads a
        # huge integer as a float).
        data: dict[str, Any] = orjson.loads(raw)
        for step in steps:
            data = step(data)
        return strict(orjson.dumps(data))

    return decode


def _as_it_is(data: dict[str, Any]) -> dict[str, Any]:
    """The upcaster of an additive version: the payload, unchanged."""
    return data
