"""Every answer carries the security headers; the pages' policy allows only shiplog's own files."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.http_headers import DOCS_POLICY, PAGE_POLICY, SECURITY_HEADERS


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/static/shiplog.js", 200),
        ("GET", "/api/events", 200),
        ("GET", "/healthz", 200),
        ("GET", "/no-such-page", 404),
        ("GET", "/api/runs?limit=0", 422),
        ("POST", "/api/deployments", 413),
    ],
)
def test_every_answer_carries_the_security_headers(
    client: TestClient, method: str, path: str, status: int
) -> None:
    body = b" " * (1024 * 1024) if status == 413 else None
    response = client.request(method, path, content=body)
    assert response.status_code == status
    assert response.headers["Content-Security-Policy"] == PAGE_POLICY
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_the_pages_policy_allows_only_same_origin_scripts_styles_and_feeds_and_no_framing() -> None:
    directives = dict(d.strip().split(" ", 1) for d in PAGE_POLICY.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"  # the live feeds and the summary fetch
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in PAGE_POLICY


def test_the_api_documentation_gets_its_own_policy(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.headers["Content-Security-Policy"] == DOCS_POLICY
    assert "frame-ancestors 'none'" in DOCS_POLICY
