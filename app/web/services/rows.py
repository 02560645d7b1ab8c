"""Rows as dictionaries keyed by column name, for the view models."""

from __future__ import annotations

from typing import Any

import psycopg


def one(conn: psycopg.Connection[Any], sql: str, *args: Any) -> dict[str, Any] | None:
    """The first row of `sql`, or None."""
    cur = conn.execute(sql, args)
    row = cur.fetchone()
    if row is None or cur.description is None:
        return None
    return dict(zip([c.name for c in cur.description], row, strict=True))


def every(conn: psycopg.Connection[Any], sql: str, *args: Any) -> list[dict[str, Any]]:
    """Every row of `sql`."""
    cur = conn.execute(sql, args)
    if cur.description is None:
        return []
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
