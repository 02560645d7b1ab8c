"""Request bodies are capped as they arrive (413), per route kind, before the app holds them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from app.http_limits import BODY_LIMITS, DEFAULT_BODY_LIMIT, MIB, BodyLimit, body_limit


class Reader:
    """An ASGI application that reads its whole body, keeping count, then answers 200."""

    def __init__(self) -> None:
        self.calls = 0
        self.received = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            self.received += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read"})


def run(
    app: Any, path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]] | None = None
) -> list[Message]:
    """Send a request with body `chunks` through `app`; the messages it answered with."""
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers or []}
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_a_declared_length_over_the_limit_is_refused_before_the_application_runs() -> None:
    reader = Reader()
    length = str(DEFAULT_BODY_LIMIT + 1).encode()
    sent = run(BodyLimit(reader), "/api/deployments", [b"x"], [(b"content-length", length)])
    assert reader.calls == 0
    assert sent[0]["status"] == 413
    detail = json.loads(sent[1]["body"])["detail"]
    assert f"larger than {DEFAULT_BODY_LIMIT} bytes" in detail and "/api/deployments" in detail


def test_a_chunked_body_is_counted_as_it_arrives_and_the_application_stops_at_the_limit() -> None:
    reader = Reader()
    chunks = [b"x" * 16 * 1024] * 64  # 1 MiB in 16 KiB chunks, no Content-Length
    sent = run(BodyLimit(reader), "/api/deployments", chunks)
    assert reader.calls == 1
    assert reader.received <= DEFAULT_BODY_LIMIT
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 413  # and the application's own answer went nowhere


def test_a_body_within_its_limit_reaches_the_application_whole() -> None:
    reader = Reader()
    sent = run(BodyLimit(reader), "/api/cdevents", [b"x" * 512 * 1024] * 2)  # 1 MiB exactly
    assert reader.received == MIB
    assert sent[0]["status"] == 200


def test_limits_go_by_the_longest_path_prefix() -> None:
    assert body_limit("/api/cdevents") == BODY_LIMITS["/api/cdevents"] == MIB
    assert body_limit("/api/deployments") == DEFAULT_BODY_LIMIT
    limits = {"/api": 10, "/api/hooks": 1000}
    assert body_limit("/api/hooks/github", limits) == 1000
    assert body_limit("/api/events", limits) == 10


def test_a_content_length_that_is_not_a_number_is_a_400() -> None:
    reader = Reader()
    sent = run(BodyLimit(reader), "/api/deployments", [b"{}"], [(b"content-length", b"2, 3")])
    assert reader.calls == 0 and sent[0]["status"] == 400


def test_a_page_gets_its_refusal_as_an_html_page(client: TestClient) -> None:
    response = client.request("GET", "/", content=b" " * (DEFAULT_BODY_LIMIT + 1))
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>413 Request too large</h1>" in response.text


def test_the_api_refuses_an_oversized_report_with_413_naming_the_limit(client: TestClient) -> None:
    body = {"environment": "production", "service": "x" * (2 * DEFAULT_BODY_LIMIT)}
    response = client.post("/api/deployments", json=body)
    assert response.status_code == 413
    assert f"larger than {DEFAULT_BODY_LIMIT} bytes" in response.json()["detail"]


def test_a_webhook_delivery_may_be_as_large_as_a_forge_sends_and_no_larger(
    client: TestClient,
) -> None:
    # GitHub's push payloads reach megabytes: past the default, within the hooks' limit,
    # the delivery reaches the signature check (401 unsigned), not a 413.
    large = b'{"zen": "' + b"x" * (2 * MIB) + b'"}'
    response = client.post("/hooks/github", content=large, headers={"X-GitHub-Event": "ping"})
    assert response.status_code != 413, response.text[:300]
    assert response.status_code < 500
    declared = str(BODY_LIMITS["/hooks/"] + 1).encode()
    reader = Reader()
    sent = run(BodyLimit(reader), "/hooks/github", [b"{}"], [(b"content-length", declared)])
    assert (sent[0]["status"], reader.calls) == (413, 0)
