"""The admin lists page like every other list: a default and a maximum, and the next page's key."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.api.params import MAX_LIMIT, NEXT_HEADER


def add_repository(client: TestClient, n: int) -> str:
    """Register github.com/acme/web-N; its identity."""
    body = {"url": f"https://github.com/acme/web-{n}.git", "forge": "github"}
    answer = client.post("/api/repositories", json=body)
    assert answer.status_code == 201, answer.text
    identity: str = answer.json()["identity"]
    return identity


def add_target(client: TestClient, n: int) -> str:
    """Register the webhook target `ops-N`; its name."""
    body = {"name": f"ops-{n}", "kind": "webhook", "url": f"https://hooks.example.com/{n}"}
    answer = client.post("/api/notifications/targets", json=body)
    assert answer.status_code == 201, answer.text
    name: str = answer.json()["name"]
    return name


LISTS = [
    ("/api/repositories", add_repository, "identity"),
    ("/api/notifications/targets", add_target, "name"),
]


@pytest.mark.parametrize(("path", "add", "key"), LISTS, ids=[path for path, _, _ in LISTS])
def test_a_list_pages_by_its_key_with_the_next_page_in_a_header(
    client: TestClient, path: str, add: object, key: str
) -> None:
    assert callable(add)
    keys = sorted(add(client, n) for n in range(3))
    first = client.get(path, params={"limit": 2})
    assert first.status_code == 200
    assert [item[key] for item in first.json()] == keys[:2]
    assert first.headers[NEXT_HEADER] == keys[1]
    rest = client.get(path, params={"limit": 2, "after": first.headers[NEXT_HEADER]})
    assert [item[key] for item in rest.json()] == keys[2:]
    assert NEXT_HEADER not in rest.headers
    too_many = client.get(path, params={"limit": MAX_LIMIT + 1})
    assert too_many.status_code == 422
    assert "limit" in too_many.text
