"""The notification tables (migrations/0052_notifications.sql): targets, outbox, states, cursor.

Configuration and work queues, not history: the ledger records who added a target and
every delivery's outcome (app/services/notifications.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from app.notify.messages import Notice

_TARGET_COLUMNS = "name, kind, url, secrets, allow_private, disabled, created_by, created_at"


@dataclass(frozen=True)
class Target:
    """A place notifications go; its URL and secrets are never shown after they were set."""

    name: str
    kind: str  # slack | webhook
    url: str
    secrets: tuple[str, ...]
    allow_private: bool
    disabled: str | None
    created_by: str
    created_at: datetime

    def __repr__(self) -> str:
        return f"<Target {self.name} ({self.kind})>"


def _connect(conninfo: str) -> psycopg.Connection[Any]:
    return psycopg.connect(conninfo, autocommit=True)


class TargetStore:
    """Add, change, disable, remove and read notification targets."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo

    def save(
        self,
        name: str,
        *,
        kind: str,
        url: str,
        secrets: Sequence[str],
        allow_private: bool,
        actor: str,
    ) -> None:
        """Insert or replace a target (enabled again)."""
        with _connect(self._conninfo) as conn:
            conn.execute(
                f"INSERT INTO notification_targets ({_TARGET_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, NULL, %s, now()) ON CONFLICT (name) DO UPDATE SET "
                "kind = EXCLUDED.kind, url = EXCLUDED.url, secrets = EXCLUDED.secrets, "
                "allow_private = EXCLUDED.allow_private, disabled = NULL, "
                "created_by = EXCLUDED.created_by, created_at = now()",
                (name, kind, url, list(secrets), allow_private, actor),
            )

    def get(self, name: str) -> Target | None:
        """The target called `name`, if any."""
        with _connect(self._conninfo) as conn:
            row = conn.execute(
                f"SELECT {_TARGET_COLUMNS} FROM notification_targets WHERE name = %s", (name,)
            ).fetchone()
        return None if row is None else _target(row)

    def all(self) -> list[Target]:
        """Every target, by name."""
        with _connect(self._conninfo) as conn:
            rows = conn.execute(
                f"SELECT {_TARGET_COLUMNS} FROM notification_targets ORDER BY name"
            ).fetchall()
        return [_target(row) for row in rows]

    def disable(self, name: str, reason: str) -> None:
        """Stop delivering to a target, and drop what waits for it."""
        with _connect(self._conninfo) as conn, conn.transaction():
            conn.execute("UPDATE notification_targets SET disabled = %s WHERE name = %s",
                         (reason, name))  # fmt: skip
            conn.execute(
                "UPDATE notification_outbox SET state = 'dropped', last_error = %s "
                "WHERE target = %s AND state = 'pending'",
                (reason, name),
            )

    def delete(self, name: str) -> bool:
        """Remove a target and drop what waits for it; False if there was none."""
        with _connect(self._conninfo) as conn, conn.transaction():
            conn.execute(
                "UPDATE notification_outbox SET state = 'dropped', last_error = 'target removed' "
                "WHERE target = %s AND state = 'pending'",
                (name,),
            )
            return (
                conn.execute("DELETE FROM notification_targets WHERE name = %s", (name,)).rowcount
                > 0
            )


def _target(row: Sequence[Any]) -> Target:
    return Target(row[0], row[1], row[2], tuple(row[3]), row[4], row[5], row[6], row[7])


@dataclass(frozen=True)
class Message:
    """A message due for delivery: its id, target, notices and how often it was tried."""

    id: int
    message_id: str
    target: str
    rule: str | None
    subject: str
    notices: tuple[Notice, ...]
    attempts: int
    created_at: datetime


class Outbox:
    """Messages waiting for delivery; repeats join a message not yet tried."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo

    def add(
        self,
        target: str,
        notice: Notice,
        *,
        rule: str | None,
        group_key: str | None = None,
        delay: timedelta = timedelta(0),
    ) -> str:
        """Queue `notice` for `target`; the id of the message that carries it.

        With a `group_key`, a notice joins a message of the same target and group that
        has not been tried yet (its `delay` is the grouping window).
        """
        with _connect(self._conninfo) as conn, conn.transaction():
            if group_key is not None:
                row = conn.execute(
                    "SELECT id, message_id FROM notification_outbox WHERE target = %s "
                    "AND group_key = %s AND state = 'pending' AND attempts = 0 "
                    "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                    (target, group_key),
                ).fetchone()
                if row is not None:
                    conn.execute(
                        "UPDATE notification_outbox SET items = items || %s::jsonb WHERE id = %s",
                        (json.dumps([notice.to_json()]), row[0]),
                    )
                    return str(row[1])
            message_id = f"msg_{uuid.uuid4().hex}"
            conn.execute(
                "INSERT INTO notification_outbox (message_id, target, rule, subject, group_key, "
                "items, next_attempt) VALUES (%s, %s, %s, %s, %s, %s, now() + %s)",
                (message_id, target, rule, notice.subject, group_key,
                 json.dumps([notice.to_json()]), delay),
            )  # fmt: skip
            return message_id

    @contextmanager
    def claim(self, due_by: datetime | None = None) -> Iterator[ClaimedMessage | None]:
        """The oldest message due (by `due_by`, default now), locked until the block ends."""
        with psycopg.connect(self._conninfo) as conn, conn.transaction():
            row = conn.execute(
                "SELECT id, message_id, target, rule, subject, items, attempts, created_at "
                "FROM notification_outbox WHERE state = 'pending' "
                "AND next_attempt <= coalesce(%s, now()) "
                "ORDER BY next_attempt, id LIMIT 1 FOR UPDATE SKIP LOCKED",
                (due_by,),
            ).fetchone()
            if row is None:
                yield None
                return
            notices = tuple(Notice(**item) for item in row[5])
            message = Message(row[0], row[1], row[2], row[3], row[4], notices, row[6], row[7])
            yield ClaimedMessage(conn, message)


class ClaimedMessage:
    """A message claimed for one attempt; `settle` records how it went."""

    def __init__(self, conn: psycopg.Connection[Any], message: Message) -> None:
        self._conn = conn
        self.message = message

    def settle(
        self,
        *,
        state: str,
        status: int | None,
        error: str | None,
        delay: timedelta = timedelta(0),
    ) -> None:
        """Record the attempt: sent, failed (final), dropped, or pending again after `delay`."""
        self._conn.execute(
            "UPDATE notification_outbox SET state = %s, attempts = attempts + 1, "
            "last_status = %s, last_error = %s, next_attempt = now() + %s WHERE id = %s",
            (state, status, error, delay, self.message.id),
        )


class NoticeStates:
    """Storm control: the last state notified per rule and subject."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo

    def changed(self, rule: str, subject: str, state: str) -> bool:
        """Record `state` for the rule's subject; True only if it differs from the last one."""
        with _connect(self._conninfo) as conn:
            row = conn.execute(
                "INSERT INTO notification_states (rule, subject, state) VALUES (%s, %s, %s) "
                "ON CONFLICT (rule, subject) DO UPDATE SET state = EXCLUDED.state, "
                "changed_at = now() WHERE notification_states.state <> EXCLUDED.state "
                "RETURNING 1",
                (rule, subject, state),
            ).fetchone()
        return row is not None


class RulesCursor:
    """How far the notification rules have read the ledger."""

    def __init__(self, conninfo: str, name: str = "rules") -> None:
        self._conninfo = conninfo
        self._name = name

    def get(self) -> tuple[int, int] | None:
        """(tx_id, position) read up to, or None before the first look."""
        with _connect(self._conninfo) as conn:
            row = conn.execute(
                "SELECT tx_id, position FROM notification_cursor WHERE name = %s", (self._name,)
            ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    def set(self, tx_id: int, position: int) -> None:
        """Remember that everything up to (tx_id, position) was read."""
        with _connect(self._conninfo) as conn:
            conn.execute(
                "INSERT INTO notification_cursor (name, tx_id, position) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, "
                "position = EXCLUDED.position",
                (self._name, tx_id, position),
            )
