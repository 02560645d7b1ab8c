"""Bad requests generated from the route table and the OpenAPI document.

Every route the application serves, every path, query, header and body parameter it
declares (the API's from its OpenAPI document, the pages' from the route table and
from the names their query strings are read by), and a catalogue of values a
careless user or an attacker sends: NUL, lone surrogates, huge, negative,
overflowing times, wrong types, oversized bodies. A new route is covered the moment
it is added.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import Mount

DIGEST = "sha256:" + "ab" * 32
RUN_ID = "6e0c3a50-1b1f-4c53-9d0e-0a7f3c2b1d00"

# Values that are right for a parameter of that name, so that the other parameters
# of a route reach the code behind it.
SAMPLES: dict[str, str] = {
    "run_id": RUN_ID,
    "digest": DIGEST,
    "step": "build",
    "environment": "production",
    "name": "production",
    "path": "shiplog.css",
    "identity": "github.com/acme/web",
}
# Query strings a route needs to answer at all (the routes that ask for one of several).
BASE_QUERIES: dict[str, str] = {
    "GET /api/images": "?commit=abcdef0",
    "GET /api/affected": "?advisory=CVE-2024-1234",
    "GET /search": "?q=web",
}
# Candidates for a string a pattern must match, tried in order.
PATTERN_CANDIDATES = ("x", "production", DIGEST, "0" * 40, RUN_ID, "1:1")


@dataclass(frozen=True)
class Bad:
    """One bad value: what kind it is, and how it travels."""

    kind: str
    value: Any
    # Already percent-encoded for a URL (bytes that are not UTF-8, for instance).
    raw: bool = False
    # Every parameter must refuse it (else only "no 5xx" is asked).
    always_refused: bool = False
    # Refused where a time is expected.
    bad_time: bool = False


TEXT_VALUES = (
    Bad("NUL", "a\x00b", always_refused=True),
    Bad("lone surrogate (WTF-8 bytes)", "%ED%A0%80", raw=True),
    Bad("bytes that are not UTF-8", "%FF%FE", raw=True),
    Bad("control character", "a\x1b[31mb"),
    Bad("huge", "x" * 20_000),
    Bad("negative", "-1"),
    Bad("huge negative", "-" + "9" * 40),
    Bad("huge number", "9" * 40),
    Bad("just past int64", str(2**63)),
    Bad("float", "1.5e308"),
    Bad("not a number", "NaN"),
    Bad("year 1 with an offset", "0001-01-01T00:00:00+23:59", bad_time=True),
    Bad("year 9999 with an offset", "9999-12-31T23:59:59-23:59", bad_time=True),
    Bad("year 1", "0001-01-01", bad_time=True),
    Bad("end of year 9999", "9999-12-31T23:59:59.999999", bad_time=True),
    Bad("huge cursor", "99999999999999999999:99999999999999999999"),
    Bad("empty", ""),
    Bad("wrong type", "[]"),
    Bad("a lone percent sign", "%25", raw=True),
    Bad("bidi override and emoji", "\u202e\U0001f600"),
)
HEADER_VALUES = tuple(
    bad
    for bad in TEXT_VALUES
    if not bad.raw and "\x00" not in bad.value and "\x1b" not in bad.value
    and bad.value.isascii()
)  # fmt: skip
BODY_VALUES = (
    Bad("NUL", "a\x00b", always_refused=True),
    Bad("lone surrogate", "\ud800", always_refused=True),
    Bad("huge string", "x" * 100_000),
    Bad("negative", -1),
    Bad("huge number", 10**40),
    Bad("huge float", 1e308),
    Bad("year 1 with an offset", "0001-01-01T00:00:00+23:59", bad_time=True),
    Bad("year 9999 with an offset", "9999-12-31T23:59:59-23:59", bad_time=True),
    Bad("year 1", "0001-01-01T00:00:00Z", bad_time=True),
    Bad("end of year 9999", "9999-12-31T23:59:59.999999Z", bad_time=True),
    Bad("a list", []),
    Bad("an object", {}),
    Bad("null", None),
    Bad("a boolean", True),
    Bad("empty", ""),
)


@dataclass(frozen=True)
class Parameter:
    """One parameter of a route: where it travels, its name, and whether it is a time."""

    where: str  # path, query, header or body
    name: str
    is_time: bool = False
    # For body fields: the path of keys to the field inside the JSON body.
    keys: tuple[str, ...] = ()


@dataclass
class Route:
    """One method and path template, its parameters, and what a good request carries."""

    method: str
    path: str
    page: bool
    parameters: list[Parameter] = field(default_factory=list)
    body: Any = None
    content_type: str = "application/json"

    @property
    def label(self) -> str:
        """`GET /api/events`: the route's test id."""
        return f"{self.method} {self.path}"

    def url(self, overrides: dict[str, str] | None = None) -> str:
        """The path with sample (or overridden, already encoded) path parameters."""
        overrides = overrides or {}

        def value(match: re.Match[str]) -> str:
            name = match.group(1).split(":")[0]
            if name in overrides:
                return overrides[name]
            return quote(SAMPLES.get(name, "x"), safe="")

        return re.sub(r"\{([^}]+)\}", value, self.path)


def encode(bad: Bad) -> str:
    """`bad` as it goes into a URL."""
    if bad.raw:
        return str(bad.value)
    return quote(str(bad.value), safe="")


def _schema_sample(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A value that fits `schema` (a small generator for the shapes the API uses)."""
    if "$ref" in schema:
        return _schema_sample(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _schema_sample(options[0], components)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        required = schema.get("required", [])
        properties = schema.get("properties", {})
        return {name: _schema_sample(properties[name], components) for name in required}
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if schema.get("format") == "date-time":
        return datetime.now(UTC).isoformat()
    pattern = schema.get("pattern")
    for candidate in PATTERN_CANDIDATES:
        if pattern is None or re.search(pattern, candidate):
            return candidate
    raise AssertionError(f"no sample value fits the pattern {pattern!r}: add one")


def _body_fields(
    schema: dict[str, Any], components: dict[str, Any], keys: tuple[str, ...] = ()
) -> Iterator[Parameter]:
    """Every property of a body schema (nested objects too), as body parameters."""
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    for name, prop in schema.get("properties", {}).items():
        is_time = prop.get("format") == "date-time" or any(
            option.get("format") == "date-time" for option in prop.get("anyOf", [])
        )
        yield Parameter("body", ".".join((*keys, name)), is_time, (*keys, name))


def _example_fields(example: Any, keys: tuple[str, ...] = ()) -> Iterator[Parameter]:
    """Every leaf of an example body, as body parameters."""
    if isinstance(example, dict):
        for name, value in example.items():
            yield from _example_fields(value, (*keys, name))
    elif keys:
        is_time = isinstance(example, str) and re.match(r"\d{4}-\d\d-\d\dT", example) is not None
        yield Parameter("body", ".".join(keys), is_time, keys)


def _api_route(method: str, path: str, operation: dict[str, Any], doc: dict[str, Any]) -> Route:
    """A route of the OpenAPI document with its parameters and a good body."""
    components = doc.get("components", {}).get("schemas", {})
    route = Route(method.upper(), path, page=False)
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        is_time = schema.get("format") == "date-time" or any(
            option.get("format") == "date-time" for option in schema.get("anyOf", [])
        )
        route.parameters.append(Parameter(parameter["in"], parameter["name"], is_time))
    body = operation.get("requestBody")
    if body is not None:
        content_type, media = next(iter(body["content"].items()))
        route.content_type = content_type
        example = media.get("example")
        if example is not None:
            route.body = example
            route.parameters += list(_example_fields(example))
        else:
            schema = media["schema"]
            if "$ref" in schema:
                schema = components[schema["$ref"].rsplit("/", 1)[1]]
            examples = schema.get("examples") or [_schema_sample(schema, components)]
            route.body = examples[0]
            route.parameters += list(_body_fields(schema, components))
    return route


def _documented_path(path: str) -> str:
    """A route table's path as OpenAPI writes it: `{identity:path}` is `{identity}`."""
    return re.sub(r"\{([^}:]+):[^}]*\}", r"{\1}", path)


def _undocumented(context: RouteContext, documented: set[tuple[str, str]]) -> Iterator[Route]:
    """A route left out of the OpenAPI document (pages, feeds, static files)."""
    original = context.original_route
    if isinstance(original, Mount):
        page = Route("GET", str(context.path).rstrip("/") + "/{path}", page=True)
        page.parameters.append(Parameter("path", "path"))
        yield page
        return
    if not isinstance(original, APIRoute):
        return
    for method in sorted(context.methods or ()):
        if method == "HEAD" or (method.lower(), _documented_path(str(context.path))) in documented:
            continue
        page = Route(method, str(context.path), page=True)
        for name in re.findall(r"\{([^}:]+)", str(context.path)):
            page.parameters.append(Parameter("path", name))
        for param in _flat(original.dependant, "query_params"):
            page.parameters.append(Parameter("query", param.alias))
        for param in _flat(original.dependant, "header_params"):
            page.parameters.append(Parameter("header", param.alias))
        yield page


def _flat(dependant: Any, attribute: str) -> Iterator[Any]:
    """The parameters of `dependant` and of every dependency below it."""
    yield from getattr(dependant, attribute)
    for sub in dependant.dependencies:
        yield from _flat(sub, attribute)


def routes_of(app: FastAPI) -> list[Route]:
    """Every route of `app`: the documented ones from OpenAPI, the rest from the route table."""
    doc = app.openapi()
    found: list[Route] = []
    documented: set[tuple[str, str]] = set()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            documented.add((method, path))
            found.append(_api_route(method, path, operation, doc))
    # The route table also knows the dependencies' parameters: add any OpenAPI lacks.
    by_label = {route.label: route for route in found}
    for context in iter_route_contexts(app.routes):
        original = context.original_route
        for method in context.methods or ():
            route = by_label.get(f"{method} {_documented_path(str(context.path))}")
            if route is None or not isinstance(original, APIRoute):
                continue
            known = {(p.where, p.name) for p in route.parameters}
            for param in _flat(original.dependant, "query_params"):
                if ("query", param.alias) not in known:
                    route.parameters.append(Parameter("query", param.alias))
        found += list(_undocumented(context, documented))
    return sorted(found, key=lambda route: route.label)


def set_field(body: Any, keys: tuple[str, ...], value: Any) -> Any:
    """A deep copy of `body` with the field at `keys` set to `value`."""
    copied = json.loads(json.dumps(body))
    target = copied
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return copied


def body_bytes(body: Any) -> bytes:
    """`body` as JSON bytes, non-ASCII escaped (so a lone surrogate travels as \\ud800)."""
    return json.dumps(body, ensure_ascii=True).encode("ascii")


def renew_id(body: Any) -> Any:
    """`body` with its top-level `id` renewed wherever it appears, so each request is new."""
    if not (isinstance(body, dict) and isinstance(body.get("id"), str) and body["id"]):
        return body
    text = json.dumps(body).replace(json.dumps(body["id"]), json.dumps(str(uuid.uuid4())))
    return json.loads(text)
