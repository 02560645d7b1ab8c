"""The velocity page's view model (placeholder until the velocity service lands)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.web.services import params
from events.store import EventStore


@dataclass(frozen=True)
class VelocityFilters:
    """Service, environment and window (days) of the velocity page."""

    service: str | None = None
    environment: str | None = None
    days: int = 90

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> VelocityFilters:
        """The filters in the query string; BadParameter names any wrong one."""
        return cls(
            service=params.text(query, "service"),
            environment=params.text(query, "environment"),
            days=params.integer(query, "days", 90, 1, 3650),
        )


@dataclass(frozen=True)
class VelocityView:
    """What the velocity page shows."""

    filters: VelocityFilters
    available: bool


def velocity_view(store: EventStore, filters: VelocityFilters) -> VelocityView:
    """The velocity figures for `filters`."""
    return VelocityView(filters, available=False)
