"""A signed webhook delivery carrying bad text or times: a 4xx naming it, or recorded, never a 500.

The forge proves who sent it, not that what it sent fits the ledger: a commit message
with a NUL, a lone surrogate in an author's name, a timestamp that overflows.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.test_webhooks import GITHUB, SHA1, SHA2, post, register
from tests.support.forge_payloads import commit, github_push, signed_github

BAD_VALUES = {
    "NUL": "a\x00b",
    "lone surrogate": "\ud800",
    "huge": "x" * 20_000,
    "year 1 with an offset": "0001-01-01T00:00:00+23:59",
    "end of year 9999": "9999-12-31T23:59:59.999999-23:59",
}
WHERE = ("ref", "message", "timestamp", "author")
UNSTORABLE = {"NUL", "lone surrogate"}
TIMES = {"year 1 with an offset", "end of year 9999"}


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("kind", sorted(BAD_VALUES))
def test_a_signed_push_with_bad_text_or_times_is_never_a_server_error(
    client: TestClient, where: str, kind: str
) -> None:
    secret = register(client, GITHUB, "github")
    value = BAD_VALUES[kind]
    pushed = commit(SHA2)
    if where == "ref":
        payload = github_push(GITHUB, "acme/web", value, SHA1, SHA2, [pushed])
    else:
        if where == "author":
            pushed["author"] = {**pushed["author"], "name": value}
        else:
            pushed[where] = value
        payload = github_push(GITHUB, "acme/web", "refs/heads/main", SHA1, SHA2, [pushed])
    answer = post(client, "github", *signed_github(secret, "push", payload))
    assert isinstance(answer["status"], int) and answer["status"] < 500, answer
    # What shiplog keeps (the ref, the commits' times and authors) must be storable;
    # the message it does not keep.
    kept = where != "message" and kind in UNSTORABLE
    if kept or (where == "timestamp" and kind in TIMES):
        assert answer["status"] == 400 and where in str(answer["detail"]), answer
