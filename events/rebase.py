"""Rebasing transaction ids after a restore into another cluster (ADR 0001, "Dump and restore").

`tx_id` is the id of the transaction that wrote an event, meaningful only in the
cluster that assigned it. A dump restored into a fresh cluster keeps the old values,
which are above the new cluster's transaction counter: readers, who stop at the oldest
running transaction (pg_snapshot_xmin), would not see the restored events, and new
events would sort before them.

`rebase_transaction_ids` rewrites them in one maintenance transaction, as the owner:
the distinct old values, in their order, become 3, 4, 5, … (below every transaction
id the new cluster will assign, and above the special ids 0-2), in `events` and in
`ledger_leaves`, with the immutability triggers disabled for exactly that transaction.
The order of every event is kept, so the sealed Merkle tree still matches the
subscription order and `shiplog verify` passes (tx_id is outside the hash). If the
new cluster's counter is not yet above the number of old values, it is moved on
first, one subtransaction per id.

Cursors held before the restore stay good: a reader's cursor is the (tx_id, position)
of the last event it saw, positions survive a dump, and reads resolve the tx_id of a
cursor through its position (events/cursor.py). Copies of tx_id in projections are
not rewritten: projections are rebuilt after a restore.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

FIRST_NEW_ID = 3
"""The first tx_id given to restored events (0, 1 and 2 are special transaction ids)."""
MARGIN = 10

_IMMUTABLE = (
    ("events", "events_reject_update_delete"),
    ("ledger_leaves", "ledger_leaves_reject_update_delete"),
)

_MAP = """
CREATE TEMPORARY TABLE shiplog_tx_map ON COMMIT DROP AS
SELECT tx_id AS old_id,
       ((dense_rank() OVER (ORDER BY tx_id)) + %s - 1)::text::xid8 AS new_id
FROM (SELECT DISTINCT tx_id FROM events) AS t
"""


@dataclass(frozen=True)
class Rebase:
    """What a rebase did: events and leaves rewritten, distinct old ids, ids burnt first."""

    events: int
    leaves: int
    transactions: int
    burnt: int


def current_transaction_id(conn: psycopg.Connection[Any]) -> int:
    """The next transaction id the cluster will hand out (without taking one)."""
    row = conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text").fetchone()
    assert row is not None
    return int(row[0])


def burn_transaction_ids(conn: psycopg.Connection[Any], count: int) -> None:
    """Move the cluster's transaction counter on by `count`, one subtransaction each."""
    if count <= 0:
        return
    with conn.transaction():
        conn.execute("CREATE TEMPORARY TABLE shiplog_burn (n int) ON COMMIT DROP")
        conn.execute(
            """
            DO $$
            BEGIN
                FOR i IN 1..%s LOOP
                    BEGIN
                        INSERT INTO shiplog_burn VALUES (i);
                    EXCEPTION WHEN OTHERS THEN NULL;
                    END;
                END LOOP;
            END $$
            """.replace("%s", str(int(count)))
        )


def rebase_transaction_ids(conn: psycopg.Connection[Any]) -> Rebase:
    """Rewrite every event's (and sealed leaf's) tx_id below this cluster's counter, in order.

    Run as the owner of the ledger tables, on a connection outside a transaction.
    """
    row = conn.execute("SELECT count(DISTINCT tx_id), max(tx_id)::text FROM events").fetchone()
    assert row is not None
    distinct, highest = int(row[0]), int(row[1] or 0)
    if distinct == 0:
        return Rebase(0, 0, 0, 0)
    needed = FIRST_NEW_ID + distinct + MARGIN
    burnt = max(0, needed - current_transaction_id(conn))
    if highest < current_transaction_id(conn) and burnt == 0 and _in_order(conn):
        return Rebase(0, 0, distinct, 0)  # already below the counter: nothing to do
    burn_transaction_ids(conn, burnt)
    with conn.transaction():
        conn.execute(_MAP, (FIRST_NEW_ID,))
        for table, trigger in _IMMUTABLE:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        events = conn.execute(
            "UPDATE events e SET tx_id = m.new_id FROM shiplog_tx_map m WHERE e.tx_id = m.old_id"
        ).rowcount
        leaves = conn.execute(
            "UPDATE ledger_leaves l SET tx_id = m.new_id FROM shiplog_tx_map m "
            "WHERE l.tx_id = m.old_id"
        ).rowcount
        for table, trigger in _IMMUTABLE:
            conn.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}")
    return Rebase(events, leaves, distinct, burnt)


def _in_order(conn: psycopg.Connection[Any]) -> bool:
    """Whether the ids are already the rebased ones (a rebase run twice changes nothing)."""
    row = conn.execute("SELECT min(tx_id)::text FROM events").fetchone()
    return row is not None and int(row[0]) == FIRST_NEW_ID
