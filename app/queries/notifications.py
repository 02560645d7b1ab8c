"""Notification targets and recent deliveries, as shown: never a URL's path or a secret."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from app.notify.addresses import origin


@dataclass(frozen=True)
class TargetView:
    """A target as shown: its URL's origin only (a Slack URL's path is a secret)."""

    name: str
    kind: str
    origin: str
    signed: bool
    allow_private: bool
    disabled: str | None


def list_targets(
    conninfo: str, *, after: str | None = None, limit: int | None = None
) -> list[TargetView]:
    """The notification targets by name: those after `after`, at most `limit`."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT name, kind, url, cardinality(secrets) > 0, allow_private, disabled "
            "FROM notification_targets WHERE %(after)s::text IS NULL OR name > %(after)s "
            "ORDER BY name LIMIT %(limit)s",
            {"after": after, "limit": limit},
        ).fetchall()
    return [TargetView(r[0], r[1], origin(r[2]), r[3], r[4], r[5]) for r in rows]
