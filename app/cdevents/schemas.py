"""The official CDEvents 0.5.1 JSON schemas (vendored) and validation against them.

The schema files in `schema_files/` are byte-for-byte copies of those in the
CDEvents 0.5.1 release (tests/api/test_cdevents.py compares them with
/work/shared/standards/cdevents-0.5.1 when that directory exists). They refer to
each other by `$id` (e.g. `links/embeddedlinksarray`), so they are put in a
`referencing` Registry under their ids and every `$ref` resolves offline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_FILES: Traversable = files("app.cdevents") / "schema_files"
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class SchemaProblem:
    """One thing wrong with a document: where (a JSON path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def schema_documents() -> dict[str, Any]:
    """Every vendored schema document by its file's path relative to `schema_files/`."""
    documents: dict[str, Any] = {}
    for entry in SCHEMA_FILES.iterdir():
        if entry.name.endswith(".json"):
            documents[entry.name] = json.loads(entry.read_text(encoding="utf-8"))
        elif entry.is_dir():
            for inner in entry.iterdir():
                if inner.name.endswith(".json"):
                    key = f"{entry.name}/{inner.name}"
                    documents[key] = json.loads(inner.read_text(encoding="utf-8"))
    return documents


def event_type_of(schema: dict[str, Any]) -> str | None:
    """The CDEvent type an event schema accepts (its `context.type` enum), or None."""
    try:
        enum = schema["properties"]["context"]["properties"]["type"]["enum"]
    except (KeyError, TypeError):
        return None
    return str(enum[0]) if isinstance(enum, list) and len(enum) == 1 else None


@cache
def _validators() -> dict[str, Draft202012Validator]:
    documents = schema_documents()
    registry: Registry[Any] = Registry().with_resources(
        (document["$id"], Resource.from_contents(document, default_specification=DRAFT202012))
        for document in documents.values()
    )
    validators = {}
    for document in documents.values():
        event_type = event_type_of(document)
        if event_type is not None:
            validators[event_type] = Draft202012Validator(
                document, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
    return validators


def supported_types() -> list[str]:
    """The CDEvent types (with versions) that have a vendored schema, sorted."""
    return sorted(_validators())


def validate(event_type: str, document: Any, prefix: str = "$") -> list[SchemaProblem]:
    """What is wrong with `document` as a CDEvent of `event_type`; empty if it validates.

    Paths are JSON paths below `prefix` (e.g. `$.data` for a CloudEvent's data).
    """
    validator = _validators().get(event_type)
    if validator is None:
        raise KeyError(event_type)
    errors = sorted(validator.iter_errors(document), key=lambda error: error.json_path)
    return [
        SchemaProblem(prefix + error.json_path[1:], error.message)
        for error in errors[:MAX_PROBLEMS]
    ]
