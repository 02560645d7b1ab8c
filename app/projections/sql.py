"""SQL text builders shared by the projections' handlers (parameters always go separately)."""

from __future__ import annotations

from events.projections import Insert


def insert_sql(table: str, columns: tuple[str, ...]) -> Insert:
    """INSERT of one row into `columns`, parameters in that order (sent by COPY in batches)."""
    return Insert(table, columns)


def upsert_sql(
    table: str,
    alias: str,
    key: tuple[str, ...],
    columns: tuple[str, ...],
    overrides: dict[str, str] | None = None,
) -> str:
    """INSERT of key + columns (parameters in that order) that updates an existing row.

    On conflict each column takes the new value, unless `overrides` gives it
    another expression; `overrides` may also set columns the INSERT leaves out.
    """
    sets = {column: f"EXCLUDED.{column}" for column in columns} | (overrides or {})
    marks = ", ".join(["%s"] * (len(key) + len(columns)))
    assignments = ", ".join(f"{column} = {value}" for column, value in sets.items())
    return (
        f"INSERT INTO {table} AS {alias} ({', '.join(key + columns)}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {assignments}"
    )


def interval_ms(interval: str) -> str:
    """SQL for an interval in whole milliseconds between two events' times, NULL if negative.

    The two times may come from two hosts' clocks (a queueing CLI, a claiming runner):
    the ledger's order says the second event came after the first, so a negative
    interval can only be the clocks' skew, and the true one is unknown.
    """
    ms = f"(extract(epoch FROM {interval}) * 1000)::bigint"
    return f"CASE WHEN {ms} >= 0 THEN {ms} END"
