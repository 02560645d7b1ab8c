"""The velocity report as CSV (a row per group, then one per week) or as a text table."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from app.csv_tables import csv_table
from app.velocity.metrics import Velocity
from app.velocity.stats import Summary

CSV_COLUMNS = (
    "service", "environment", "week", "deployments", "deployments_per_day",
    "weekly_deployments_median", "weekly_deployments_p90", "frequency_level",
    "lead_time_median_s", "lead_time_p90_s", "lead_time_level", "changes", "failed_changes",
    "change_failure_rate", "change_failure_level", "recovery_median_s", "recovery_p90_s",
    "recovery_level", "unrecovered",
)  # fmt: skip


def to_csv(groups: Iterable[Velocity]) -> str:
    """CSV: per group a row with `week` empty (the whole window), then a row per week.

    Service and environment names come from reports, so the table is neutralised
    against formulas (app/csv_tables.py).
    """
    return csv_table(CSV_COLUMNS, _rows(groups))


def _rows(groups: Iterable[Velocity]) -> Iterator[tuple[Any, ...]]:
    for v in groups:
        yield (
            (v.service, v.environment, "", v.deployments, _num(v.deployments_per_day),
             _num(v.weekly_deployments.median), _num(v.weekly_deployments.p90),
             v.frequency_level or "", _num(v.lead_time.median), _num(v.lead_time.p90),
             v.lead_time_level or "", v.changes, v.failed_changes, _num(v.change_failure_rate),
             v.change_failure_level or "", _num(v.recovery.median), _num(v.recovery.p90),
             v.recovery_level or "", v.unrecovered)
        )  # fmt: skip
        for w in v.weekly:
            yield (
                (v.service, v.environment, w.week.isoformat(), w.deployments, "", "", "", "",
                 _num(w.lead_time_median), "", "", "", "", _num(w.change_failure_rate), "",
                 _num(w.recovery_median), "", "", "")
            )  # fmt: skip


def _num(value: float | None) -> str:
    """A number for CSV: empty when unknown, else up to 6 significant decimals."""
    return "" if value is None else f"{value:.6g}"


def short_duration(seconds: float | None) -> str:
    """A duration for people: `-`, `42s`, `17m`, `5.2h` or `3.1d`."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def table(groups: Sequence[Velocity], stages: dict[str, Summary]) -> str:
    """The report as an aligned text table: a row per group, then the stage timings."""
    head = ("service", "env", "deploys/day", "lead p50", "lead p90", "CFR", "recovery p50",
            "recovery p90", "levels (freq/lead/cfr/recovery)")  # fmt: skip
    rows = [head]
    for v in groups:
        rate = "-" if v.change_failure_rate is None else f"{v.change_failure_rate:.1%}"
        levels = "/".join(
            level or "-"
            for level in (
                v.frequency_level,
                v.lead_time_level,
                v.change_failure_level,
                v.recovery_level,
            )
        )
        rows.append(
            (v.service, v.environment, f"{v.deployments_per_day:.2f}",
             short_duration(v.lead_time.median), short_duration(v.lead_time.p90), rate,
             short_duration(v.recovery.median), short_duration(v.recovery.p90), levels)
        )  # fmt: skip
    lines = _aligned(rows)
    lines.append("")
    stage_rows = [("stage", "runs", "p50", "p90")]
    for stage, s in stages.items():
        stage_rows.append(
            (
                stage,
                str(s.count),
                short_duration(_seconds(s.median)),
                short_duration(_seconds(s.p90)),
            )
        )
    lines.extend(_aligned(stage_rows))
    return "\n".join(lines)


def _seconds(ms: float | None) -> float | None:
    """Milliseconds as seconds."""
    return None if ms is None else ms / 1000


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as lines with columns padded to their widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]  # fmt: skip
