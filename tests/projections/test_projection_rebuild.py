"""Every projection: a rebuild from position zero holds exactly what live folding held.

Written once for all of PROJECTIONS, so a projection added later is covered without
a new test: its handler must be deterministic (depend on the events and its own rows
only), or the checksums differ.
"""

from __future__ import annotations

import psycopg

from app.database import Database
from app.projections import PROJECTIONS, projector
from events.projections import table_checksums
from events.store import EventStore
from tests.support.run_history import fold_while_appending, history


def checksums(database: Database) -> dict[str, str]:
    """Table → checksum of every table of every projection."""
    with psycopg.connect(database.app_url) as conn:
        return {
            table: value
            for projection in PROJECTIONS
            for table, value in table_checksums(conn, projection).items()
        }


def test_every_projection_rebuilt_from_zero_equals_its_live_fold(
    store: EventStore, database: Database
) -> None:
    _, streams = history(runs=250, seed=31)
    folding = projector(store)
    batches = fold_while_appending(store, streams, folding, list(PROJECTIONS), batch=30, seed=32)
    live = checksums(database)
    assert batches > 3, "the projections were folded live, in many transactions"
    assert all(not value.endswith(":0") for value in live.values()), live  # none left empty

    rebuilt = folding.rebuild(batch=500)

    total = sum(len(events) for events in streams.values())
    assert rebuilt == {projection.name: total for projection in PROJECTIONS}
    assert checksums(database) == live
