"""Times other tools report (a rollout's start and end, an incident's, a CDEvent's): checked.

A reported time is kept as its own field beside the event's `recorded_at`; what is
current (which image a service runs, whether an incident is open) follows the
ledger's order, never these times. They still feed durations and DORA metrics,
so a time that cannot be true is refused: before EARLIEST (a zeroed clock, a
unit mistake), more than the allowed skew ahead of this server's clock, or
before the thing it follows (a rollout finished before it started, an incident
resolved before it was opened).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.services.errors import FieldProblem

# Nothing shiplog records happened before this: 1970-01-01 is a clock at zero.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
DEFAULT_SKEW = timedelta(minutes=5)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TimeRules:
    """How far ahead of `now()` a reported time may be (clocks differ a little)."""

    skew: timedelta = DEFAULT_SKEW
    now: Callable[[], datetime] = field(default=_utc_now)

    def check(self, name: str, value: datetime | None) -> None:
        """FieldProblem naming `name` if `value` is absurdly early or in the future."""
        if value is None:
            return
        if value < EARLIEST:
            raise FieldProblem(
                name,
                f"{value.isoformat()} is before {EARLIEST.year}: not a time shiplog can "
                "record (a clock at zero, or seconds read as milliseconds?)",
                value.isoformat(),
            )
        limit = self.now() + self.skew
        if value > limit:
            raise FieldProblem(
                name,
                f"{value.isoformat()} is in the future: more than "
                f"{int(self.skew.total_seconds())} s ahead of this server's clock "
                f"({self.now().isoformat(timespec='seconds')}); report a time once it has "
                "happened (SHIPLOG_MAX_CLOCK_SKEW sets the allowance)",
                value.isoformat(),
            )

    def check_order(
        self, name: str, value: datetime | None, after: str, earlier: datetime | None
    ) -> None:
        """FieldProblem naming `name` if `value` comes before `earlier` (the `after` time)."""
        if value is not None and earlier is not None and value < earlier:
            raise FieldProblem(
                name,
                f"{value.isoformat()} is before {after} {earlier.isoformat()}: it cannot end "
                "before it began",
                value.isoformat(),
            )


def stored_time(data: dict[str, object], name: str, recorded_at: datetime) -> datetime:
    """The time a recorded event's payload reports in `name`, else when it was recorded."""
    value = data.get(name)
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return recorded_at
