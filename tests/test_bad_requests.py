"""Every route, every parameter, every kind of bad value: a 4xx naming it, never a 5xx.

The routes and their parameters come from the application itself
(tests/support/bad_requests.py): the OpenAPI document for the API, the route table
and the names the pages read their query strings by for the rest. An API refusal
is JSON naming the parameter; a page's is an HTML error page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.executor.logs import StepLogWriter
from app.http_limits import body_limit
from app.projections import projector
from app.server import create_app
from app.web import params as page_params
from events.catalogue import Metadata
from events.store import ANY, EventStore
from events.vocabulary import BaseImage, DeploymentStarted, ImageBuilt, RunClaimed
from tests.support.bad_requests import (
    BASE_QUERIES,
    BODY_VALUES,
    DIGEST,
    HEADER_VALUES,
    RUN_ID,
    SAMPLES,
    TEXT_VALUES,
    Bad,
    Parameter,
    Route,
    body_bytes,
    encode,
    renew_id,
    routes_of,
    set_field,
)
from tests.support.factories import queued, step_finished, step_started

ROUTES = routes_of(create_app(Settings(home=Path("/nonexistent"), database_url="postgresql:///x")))
# Requests the test sends as an admin's bearer token, which a route refuses by design: the
# sign-in form's post needs the form's own CSRF pair (a cookie and a field), which only a
# browser that loaded the form holds (tests/web/test_signin.py covers it).
REFUSED_AS_SENT = {"POST /signin": 403}


@pytest.fixture
def recorded(store: EventStore) -> EventStore:
    """A ledger with a run (a step and its log) and projections caught up."""
    meta = Metadata(actor="alice", source="test")
    built = ImageBuilt(
        step="build",
        image_id=DIGEST,
        base_images=(BaseImage(name="debian:bookworm", digest="sha256:" + "d" * 64),),
        dockerfile_sha256="e" * 64,
        context_digest="sha256:" + "f" * 64,
        build_args={},
        labels={"org.opencontainers.image.title": "web"},
        tags=("latest",),
    )
    claimed = RunClaimed(runner="host:1", runner_version="0.1.0")
    events = [queued(), claimed, step_started("build"), built]
    store.append(f"run-{RUN_ID}", events, ANY, meta)
    with StepLogWriter(store.conninfo, RUN_ID, "build") as log:
        log.write("one\ntwo\n")
    store.append(f"run-{RUN_ID}", [step_finished("build", 2)], ANY, meta)
    started = DeploymentStarted(deployment_id="d-1", service="web", image_digest=DIGEST)
    store.append("env-production", [started], ANY, meta)
    projector(store).catch_up_all()
    return store


class Outcome:
    """What went wrong for one route, collected so that one run lists every failure."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.failures: list[str] = []

    def check(self, what: str, response: Any, *, refused: bool, names: str | None) -> None:
        """A response must not be a 5xx; a refusal must say what, in the route's format."""
        status = response.status_code
        if status >= 500:
            self.failures.append(f"{what}: {status} {response.text[:300]!r}")
            return
        if refused and status < 400:
            self.failures.append(f"{what}: accepted with {status}, expected a 4xx")
            return
        if status < 400:
            return
        content_type = response.headers.get("content-type", "")
        if self.route.page:
            if not content_type.startswith("text/html") or "<h1" not in response.text:
                self.failures.append(f"{what}: {status} is not an HTML error page")
            return
        try:
            body = json.loads(response.text)
        except ValueError:
            self.failures.append(f"{what}: {status} body is not JSON: {response.text[:200]!r}")
            return
        if status in (400, 422) and names is not None and names not in json.dumps(body):
            # The route's own question must have been the one refused, not another.
            self.failures.append(f"{what}: {status} does not name {names!r}: {body!r:.300}")


def send(
    client: TestClient,
    route: Route,
    url: str,
    *,
    body: bytes | Iterator[bytes] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """Send one request; a server exception is turned into a 500-like answer."""
    headers = dict(headers or {})
    if body is not None:
        headers.setdefault("content-type", route.content_type)
    try:
        with client.stream(route.method, url, content=body, headers=headers) as response:
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                response.read()
            return response
    except Exception as error:  # the TestClient re-raises what the server raised
        return _Raised(error)


class _Raised:
    """An exception the application raised, standing in for its 500."""

    status_code = 500

    def __init__(self, error: Exception) -> None:
        self.headers: dict[str, str] = {}
        self.text = f"raised {type(error).__name__}: {error}"


@pytest.fixture
def page_parameters(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """The query parameter names the pages read (app/web/params.py), as they read them."""
    names: set[str] = set()
    original = page_params.text

    def recording(values: Any, name: str, **kwargs: Any) -> str | None:
        names.add(name)
        return original(values, name, **kwargs)

    monkeypatch.setattr(page_params, "text", recording)
    yield names


def parameters_of(client: TestClient, route: Route, read: set[str]) -> list[Parameter]:
    """The route's declared parameters, and for a page the names its handler reads."""
    found = list(route.parameters)
    if route.page and route.method == "GET":
        read.clear()
        send(client, route, route.url())
        declared = {p.name for p in found}
        found += [Parameter("query", name) for name in sorted(read - declared)]
    return found


def bad_values(parameter: Parameter) -> tuple[Bad, ...]:
    """The values to try on `parameter` (an empty path segment is another route's URL)."""
    if parameter.where == "body":
        return BODY_VALUES
    if parameter.where == "header":
        return HEADER_VALUES
    if parameter.where == "path":
        return tuple(bad for bad in TEXT_VALUES if bad.value)
    return TEXT_VALUES


def must_refuse(parameter: Parameter, bad: Bad) -> bool:
    """True when no parameter of this kind may accept `bad`."""
    if bad.always_refused:
        return not (parameter.where == "path" and parameter.name == "path")
    return bad.bad_time and parameter.is_time


@pytest.mark.parametrize("route", ROUTES, ids=[route.label for route in ROUTES])
def test_bad_values_in_every_parameter_are_refused_without_a_server_error(
    client: TestClient, recorded: EventStore, route: Route, page_parameters: set[str]
) -> None:
    outcome = Outcome(route)
    base = BASE_QUERIES.get(route.label, "")
    sample = None if route.body is None else body_bytes(route.body, route.content_type)
    good = send(client, route, route.url() + base, body=sample)
    # Well-formed, so that each bad value below is the only thing wrong (404: none such).
    expected = (404, REFUSED_AS_SENT.get(route.label))
    assert good.status_code < 400 or good.status_code in expected, good.text[:500]
    projector(recorded).catch_up_all()
    for parameter in parameters_of(client, route, page_parameters):
        for bad in bad_values(parameter):
            what = f"{parameter.where} {parameter.name!r} = {bad.kind}"
            url, body, headers = route.url(), None, {}
            if route.body is not None:
                body = body_bytes(route.body, route.content_type)
            if parameter.where == "path":
                url = route.url({parameter.name: encode(bad)}) + base
            elif parameter.where == "query":
                url = f"{url}{base or '?'}&{parameter.name}={encode(bad)}"
            elif parameter.where == "header":
                headers = {parameter.name: str(bad.value)}
            else:
                changed = set_field(renew_id(route.body), parameter.keys, bad.value)
                body = body_bytes(changed, route.content_type)
            response = send(client, route, url, body=body, headers=headers)
            names = parameter.keys[-1] if parameter.keys else parameter.name
            outcome.check(what, response, refused=must_refuse(parameter, bad), names=names)
    assert not outcome.failures, f"{route.label}:\n" + "\n".join(outcome.failures)


def _chunks(size: int) -> Iterator[bytes]:
    """`size` bytes of a JSON string, in 64 KiB chunks (no Content-Length: chunked)."""
    yield b'"'
    for _ in range(size // 65536):
        yield b"x" * 65536
    yield b'"'


@pytest.mark.parametrize("route", ROUTES, ids=[route.label for route in ROUTES])
def test_malformed_and_oversized_bodies_are_refused_without_a_server_error(
    client: TestClient, recorded: EventStore, route: Route
) -> None:
    outcome = Outcome(route)
    url = route.url()
    if route.body is not None:
        for what, raw in (
            ("not JSON", b"{"),
            ("a JSON array", b"[]"),
            ("a raw NUL byte", b'{"a\x00": 1}'),
            ("bytes that are not UTF-8", b'{"a": "\xff\xfe"}'),
            ("nested 100000 deep", b"[" * 100_000 + b"]" * 100_000),
        ):
            outcome.check(what, send(client, route, url, body=raw), refused=True, names=None)
    too_large = body_limit(url) + 1
    oversized = send(client, route, url, body=b"{" + b" " * too_large + b"}")
    outcome.check("an oversized body", oversized, refused=True, names=None)
    if oversized.status_code != 413:
        outcome.failures.append(f"an oversized body: {oversized.status_code}, expected 413")
    # Without a length, only a route that reads its body finds out that it is too large.
    chunked = send(client, route, url, body=_chunks(too_large))
    reads_body = route.body is not None
    outcome.check("an oversized chunked body", chunked, refused=reads_body, names=None)
    if reads_body and chunked.status_code != 413:
        outcome.failures.append(f"an oversized chunked body: {chunked.status_code}, expected 413")
    assert not outcome.failures, f"{route.label}:\n" + "\n".join(outcome.failures)


def test_every_route_of_the_application_is_covered() -> None:
    labels = {route.label for route in ROUTES}
    for expected in ("GET /api/events", "POST /api/deployments", "GET /", "GET /live/timeline",
                     "GET /static/{path}", "GET /runs/{run_id}", "POST /hooks/{forge}",
                     "POST /api/repositories", "DELETE /api/repositories/{identity}",
                     "DELETE /api/notifications/targets/{name}"):  # fmt: skip
        assert expected in labels
    assert SAMPLES  # the samples are used for every path parameter of a route
