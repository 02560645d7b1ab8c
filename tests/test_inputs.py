"""What shiplog accepts as text and as a time, and how anything a caller sent is echoed safely."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.inputs import (
    EARLIEST,
    LATEST,
    TimeOutOfRange,
    clean_text,
    parse_time,
    printable,
    text_problem,
    utc_moment,
)


def test_text_with_nul_or_a_lone_surrogate_is_refused_saying_which() -> None:
    assert text_problem("naïve 😀 text") is None
    assert text_problem("a\x00b") == "contains a NUL character (U+0000)"
    assert text_problem("a\udc80b") == "contains a lone surrogate (U+DC80)"
    assert clean_text("fine") == "fine"
    with pytest.raises(ValueError, match=r"U\+D800"):
        clean_text("\ud800")


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+23:59",  # overflows when moved to UTC
        "9999-12-31T23:59:59-23:59",
        "0001-01-01",
        "9999-12-31T23:59:59.999999",
        "1899-12-31T23:59:59Z",
    ],
)
def test_times_outside_the_range_are_refused_instead_of_overflowing(text: str) -> None:
    with pytest.raises(TimeOutOfRange, match="out of range: times must lie between 1900-01-01"):
        parse_time(text)


def test_times_in_range_come_back_in_utc_and_naive_means_utc() -> None:
    assert parse_time("2026-01-31T12:00:00+02:00") == datetime(2026, 1, 31, 10, tzinfo=UTC)
    assert parse_time(" 2026-01-31 ") == datetime(2026, 1, 31, tzinfo=UTC)
    assert utc_moment(EARLIEST) == EARLIEST
    assert utc_moment(LATEST - timedelta(microseconds=1)).year == 9998
    east = datetime(1900, 1, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    with pytest.raises(TimeOutOfRange):
        utc_moment(east)  # 1899-12-31T23:00Z
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        parse_time("yesterday")


def test_printable_writes_lone_surrogates_out_and_leaves_the_rest() -> None:
    echoed = printable({"loc": ("body", "service"), "input": "a\ud800b", "n": 1})
    assert echoed == {"loc": ("body", "service"), "input": "a\\ud800b", "n": 1}
    json.dumps(echoed).encode("utf-8")


def report(client: TestClient, service: bytes, status: bytes) -> Any:
    """POST a deployment report with these raw JSON strings (escapes kept as sent)."""
    body = b'{"environment": "production", "service": "%s", "status": "%s", "image_digest": ' \
        b'"sha256:%s"}' % (service, status, b"ab" * 32)  # fmt: skip
    headers = {"content-type": "application/json"}
    return client.post("/api/deployments", content=body, headers=headers)


def test_a_lone_surrogate_in_a_report_is_a_422_naming_the_field_that_encodes(
    client: TestClient,
) -> None:
    response = report(client, b"web\\ud800", b"started")
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "service"]
    assert "lone surrogate (U+D800)" in problem["msg"]
    assert problem["input"] == "web\\ud800"


def test_a_lone_surrogate_in_a_field_refused_for_another_reason_still_encodes(
    client: TestClient,
) -> None:
    response = report(client, b"web", b"\\ud800")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "status"]


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/events?actor=a%00b", "actor"),
        ("/api/runs/a%00b", "run_id"),
        ("/api/events?since=0001-01-01T00:00:00%2B23:59", "since"),
        ("/api/environments?as_of=9999-12-31T23:59:59-23:59", "as_of"),
    ],
)
def test_nul_and_overflowing_times_in_the_url_are_a_422_naming_the_parameter(
    client: TestClient, path: str, parameter: str
) -> None:
    response = client.get(path)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-1] == parameter


def test_a_page_refuses_a_nul_with_a_400_page_naming_the_parameter(client: TestClient) -> None:
    response = client.get("/?actor=a%00b")
    assert response.status_code == 400
    assert "actor" in response.text and "NUL" in response.text
