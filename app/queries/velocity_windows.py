"""The velocity page's reports, kept per window and refreshed in the background.

The page asks for "the last N days" again and again, and at a busy ledger's scale
a report takes far longer than a page may (docs/benchmarks.md). So each window the
page shows (days and filters) keeps its latest report. The first request for a
window computes it. After that, a request is answered at once from what is kept;
if anything was folded since (a projection checkpoint moved) or the minute the
window ends at has passed, that request also starts one refresh in the background,
and the requests after it get the new report once it is done.

So the page may show a report some seconds older than the ledger, never older than
its last refresh took; it says when its figures were computed and whether newer ones
are on the way. The API and the CLI keep computing the report to the moment
(app/queries/velocity.py).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.queries.velocity import VelocityReport, velocity_report
from events.store import EventStore

logger = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)
KEPT = 32  # windows remembered (filters and days), least recently used dropped first

ProjectionState = tuple[tuple[str, int, str, int], ...]


@dataclass(frozen=True)
class WindowedReport:
    """A kept report: when it was computed, and whether a newer one is being computed."""

    report: VelocityReport
    computed_at: datetime
    refreshing: bool = False


@dataclass
class _Kept:
    """One window's latest report and the state it was computed in."""

    found: WindowedReport
    until: datetime
    state: ProjectionState
    started: int  # the computation's turn: a later one read a later ledger
    refreshing: bool = False


_kept: OrderedDict[Hashable, _Kept] = OrderedDict()
_lock = threading.Lock()
_turns = itertools.count()


def windowed_report(
    store: EventStore,
    production: Sequence[str],
    *,
    days: int,
    environment: str | None = None,
    service: str | None = None,
    now: datetime | None = None,
) -> WindowedReport:
    """The report over the `days` days up to the next whole minute after `now`.

    Computed here the first time this window is asked for; afterwards the kept one,
    refreshed in the background whenever the projections or the minute have moved.
    InvalidParameter as velocity_report.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    until = moment.replace(second=0, microsecond=0) + MINUTE
    key = (store.conninfo, tuple(production), days, environment, service)
    state = _projection_state(store)
    with _lock:
        turn = next(_turns)
        kept = _kept.get(key)
        if kept is not None:
            _kept.move_to_end(key)
            if (kept.until, kept.state) != (until, state) and not kept.refreshing:
                kept.refreshing = True
                threading.Thread(
                    target=_refresh,
                    args=(store, key, production, days, environment, service, until, state, turn),
                    name="velocity-refresh",
                    daemon=True,  # a refresh left unfinished at exit is only lost work
                ).start()
            return WindowedReport(kept.found.report, kept.found.computed_at, kept.refreshing)
    report = _compute(store, production, days, environment, service, until)
    return _keep(key, report, until, state, turn)


def _compute(
    store: EventStore,
    production: Sequence[str],
    days: int,
    environment: str | None,
    service: str | None,
    until: datetime,
) -> VelocityReport:
    return velocity_report(
        store,
        production,
        since=f"{days}d",
        until=until.isoformat(),
        environment=environment,
        service=service,
    )


def _refresh(
    store: EventStore,
    key: Hashable,
    production: Sequence[str],
    days: int,
    environment: str | None,
    service: str | None,
    until: datetime,
    state: ProjectionState,
    turn: int,
) -> None:
    """Compute the window's report again and keep it; on failure keep the old one."""
    try:
        report = _compute(store, production, days, environment, service, until)
    except Exception:
        # The page goes on showing the older report (it says when it was computed);
        # the next request after a fold or a minute tries again.
        logger.warning("refreshing the velocity report of %s failed", key, exc_info=True)
        with _lock:
            kept = _kept.get(key)
            if kept is not None:
                kept.refreshing = False
        return
    _keep(key, report, until, state, turn)


def _keep(
    key: Hashable, report: VelocityReport, until: datetime, state: ProjectionState, turn: int
) -> WindowedReport:
    """Remember `report` as the window's latest, unless a later one is kept already."""
    found = WindowedReport(report, datetime.now(UTC))
    with _lock:
        kept = _kept.get(key)
        # Two computations of one window may finish out of order (a first request
        # racing a refresh): the one that started later read a later ledger, and wins.
        if kept is not None and kept.started > turn:
            return found
        _kept[key] = _Kept(found, until, state, turn)
        _kept.move_to_end(key)
        while len(_kept) > KEPT:
            _kept.popitem(last=False)
    return found


def _projection_state(store: EventStore) -> ProjectionState:
    """Every projection checkpoint (name, version, cursor): what the projections hold."""
    with store.connection() as conn:
        rows = conn.execute(
            "SELECT name, version, tx_id::text, position FROM projection_checkpoints "
            "ORDER BY name, version"
        ).fetchall()
    return tuple((str(n), int(v), str(t), int(p)) for n, v, t, p in rows)
