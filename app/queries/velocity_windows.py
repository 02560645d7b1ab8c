"""The velocity page's report, computed once per window and state of the projections.

The page asks for "the last N days" again and again, and at a busy ledger's scale
the report takes far longer than a page may (docs/benchmarks.md). Its answer
depends only on the window and on what the projections it reads have folded, so
it is kept in memory keyed by both: the window ends at the next whole minute (so
it covers everything recorded so far and repeats for a minute), and the state is
every projection checkpoint's cursor, which moves whenever anything is folded. A
request that finds its key is answered from memory; any folded event, or the next
minute, makes the next request compute the report again. The API and the CLI
keep computing it exactly to the moment (app/queries/velocity.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime, timedelta

from app.queries.velocity import VelocityReport, velocity_report
from events.store import EventStore

MINUTE = timedelta(minutes=1)
KEPT = 32  # windows remembered (filters and minutes), least recently used dropped first

_reports: OrderedDict[Hashable, VelocityReport] = OrderedDict()
_lock = threading.Lock()


def windowed_report(
    store: EventStore,
    production: Sequence[str],
    *,
    days: int,
    environment: str | None = None,
    service: str | None = None,
    now: datetime | None = None,
) -> VelocityReport:
    """The report over the `days` days up to the next whole minute after `now`.

    Computed by velocity_report the first time this window is asked for in the
    projections' current state, then served from memory until either moves.
    InvalidParameter as velocity_report.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    until = moment.replace(second=0, microsecond=0) + MINUTE
    key = (
        store.conninfo,
        tuple(production),
        days,
        environment,
        service,
        until,
        _projection_state(store),
    )
    with _lock:
        found = _reports.get(key)
        if found is not None:
            _reports.move_to_end(key)
            return found
    report = velocity_report(
        store,
        production,
        since=f"{days}d",
        until=until.isoformat(),
        environment=environment,
        service=service,
    )
    with _lock:
        _reports[key] = report
        while len(_reports) > KEPT:
            _reports.popitem(last=False)
    return report


def _projection_state(store: EventStore) -> tuple[tuple[str, int, str, int], ...]:
    """Every projection checkpoint (name, version, cursor): what the projections hold."""
    with store.connection() as conn:
        rows = conn.execute(
            "SELECT name, version, tx_id::text, position FROM projection_checkpoints "
            "ORDER BY name, version"
        ).fetchall()
    return tuple((str(n), int(v), str(t), int(p)) for n, v, t, p in rows)
