"""The inbox of accepted webhook deliveries (migrations/0051_webhook_deliveries.sql).

The webhook endpoint adds a row and answers at once; a worker claims rows one at a time
(FOR UPDATE SKIP LOCKED, so several processes never take the same one), fetches the
commit, and marks the row done, failed, or due again later. Rows hold the trigger as
parsed, never the request body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, Literal

import psycopg

TriggerEvent = Literal["push", "tag", "pull_request"]


@dataclass(frozen=True)
class TriggerRequest:
    """What a delivery asks for: a run of one commit, and what its pipeline's trigger sees."""

    event: TriggerEvent
    ref: str  # the run's ref: refs/heads/<b>, refs/tags/<t>, refs/pull/<n>/head
    sha: str  # the commit to run
    branch: str | None  # what `branches` and `when.branch` match: a pull request's target
    before: str | None = None  # a push's previous sha, for its changed files
    base_sha: str | None = None  # a pull request's base, for its changed files
    untrusted: bool = False  # from a fork: no secrets
    number: int | None = None  # the pull request's number

    def to_json(self) -> str:
        """The row's `trigger` column."""
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class InboxItem:
    """A claimed delivery."""

    id: int
    forge: str
    repository: str
    delivery: str
    trigger: TriggerRequest
    attempts: int


class Claimed:
    """A delivery claimed inside a transaction; one of done/failed/later ends the claim."""

    def __init__(self, conn: psycopg.Connection[Any], item: InboxItem) -> None:
        self._conn = conn
        self.item = item

    def done(self, outcome: str, runs: list[str] | None = None) -> None:
        """Finished: `outcome` says what became of it (a run queued, or why none)."""
        self._set("done", outcome, runs or [], timedelta(0))

    def failed(self, outcome: str) -> None:
        """Given up on: `outcome` says why."""
        self._set("failed", outcome, [], timedelta(0))

    def later(self, outcome: str, delay: timedelta) -> None:
        """Try again after `delay`: `outcome` says what went wrong this time."""
        self._set("pending", outcome, [], delay)

    def _set(self, state: str, outcome: str, runs: list[str], delay: timedelta) -> None:
        self._conn.execute(
            "UPDATE webhook_deliveries SET state = %s, outcome = %s, runs = %s, "
            "attempts = attempts + 1, next_attempt = now() + %s WHERE id = %s",
            (state, outcome[:2000], runs, delay, self.item.id),
        )


class DeliveryInbox:
    """Add, claim and settle webhook deliveries, as the application role."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo

    def add(
        self,
        *,
        forge: str,
        repository: str,
        delivery: str,
        content_key: str | None,
        trigger: TriggerRequest,
    ) -> int | None:
        """Add a delivery; its row id, or None when it was already there (a redelivery)."""
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            row = conn.execute(
                "INSERT INTO webhook_deliveries (forge, repository, delivery, content_key, "
                "event, trigger) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING "
                "RETURNING id",
                (forge, repository, delivery, content_key, trigger.event, trigger.to_json()),
            ).fetchone()
        return None if row is None else int(row[0])

    @contextmanager
    def claim(self) -> Iterator[Claimed | None]:
        """The oldest delivery due, locked for this transaction; None when none is due."""
        with psycopg.connect(self._conninfo) as conn, conn.transaction():
            row = conn.execute(
                "SELECT id, forge, repository, delivery, trigger, attempts "
                "FROM webhook_deliveries WHERE state = 'pending' AND next_attempt <= now() "
                "ORDER BY next_attempt, id LIMIT 1 FOR UPDATE SKIP LOCKED"
            ).fetchone()
            if row is None:
                yield None
                return
            item = InboxItem(row[0], row[1], row[2], row[3], TriggerRequest(**row[4]), row[5])
            yield Claimed(conn, item)
