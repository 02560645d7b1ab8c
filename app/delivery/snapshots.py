"""Snapshots of an environment's folded stream, so a decision or a page folds only the tail.

An environment's state (app/delivery/ledger.py) is the fold of its whole stream
`env-<name>`; a long-lived environment has tens of thousands of events there, and
folding them all took a third of a second per page and per decision. A snapshot is
that fold up to one stream version, kept in `env_state_snapshots`
(migrations/0085_env_state_snapshots.sql) with the version it stands at. Whoever
reads an environment loads the snapshot and folds the events after its version, read
from the ledger by version; when that tail has grown long, it saves the result as the
new snapshot. Nothing else writes the table, and a snapshot is only ever a cache of
the fold: dropping every row (`forget_snapshots`) changes no answer, only how long
the next read takes, and `rebuild_snapshots` refolds each environment from version 0.

WHY A SNAPSHOT KEYED BY STREAM VERSION, NOT A PROJECTION FOLLOWING THE LEDGER
----------------------------------------------------------------------------
The desk decides with optimistic concurrency: it reads the state, decides, and
appends at the stream version that state stands at, so an append succeeds only if
nothing was added to the stream since the state was read. The state it decides on
must therefore be exactly the fold of versions 0..v of the stream, with v the
version it appends against. A projection that follows the ledger folds in
subscription order, (tx_id, position): that is the order in which transactions
became final, not the order of one stream's versions. A transaction that took its
xid early (it appended to another stream first) and appended version v+1 after
another committed v folds before v there; and the projection's checkpoint is a
cursor across all streams, which says nothing exact about one stream's version. A
snapshot is instead made by reading the stream itself in version order
(`EventStore.read_stream`, which sees every committed version, and a stream's
versions commit in order: an append of v+1 needs v committed to compute v+1, and
`UNIQUE (stream, version)` refuses the rest), so "folded up to v" is exact by
construction. The reader then reads the versions after v from the ledger and folds
them forward; the state's `version` is the last one it folded, and that is what the
desk appends against. A snapshot row may be replaced by a newer one between those
two reads: that does not matter, since the reader keeps the row it read and the
versions after it are immutable.

WHY THE FOLD'S CODE IS PART OF THE KEY
--------------------------------------
A snapshot holds what `EnvironmentState.apply` made of the events. Were `apply` (or
this codec, or the events' classes and upcasters) changed, an old snapshot would
hold what the new code would not produce, and the answers would differ from a full
fold. Rather than rely on someone bumping a number, each row is keyed by `fold`, the
sha256 of the source of the modules that shape the fold: code that differs in any
byte neither reads nor overwrites another's snapshots (two versions of shiplog side
by side during an upgrade each keep their own), and after an upgrade each
environment is folded in full once. If the source cannot be read, snapshots are off
and every read folds the whole stream, as before.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from types import ModuleType

import psycopg

from app.delivery import ledger, state_codec
from app.delivery.ledger import EnvironmentState, environment_stream
from app.delivery.state_codec import ArchivedService, decode_state, encode_state
from events import catalogue, vocabulary
from events.store import EventStore

logger = logging.getLogger(__name__)

# A read that had to fold more events than this after the snapshot saves a new one
# (so does one whose fold built a service's history: `_built_any`). Saving writes the
# whole state (about 100 bytes per stint, 1 kB per deployment), so not after every
# event; folding 64 events forward takes about a millisecond.
REFRESH_AFTER = 64

_LOAD = "SELECT version, state::text FROM env_state_snapshots WHERE environment = %s AND fold = %s"
_SAVE = """
INSERT INTO env_state_snapshots AS s (environment, fold, version, state)
VALUES (%s, %s, %s, %s::json)
ON CONFLICT (environment, fold) DO UPDATE
SET version = EXCLUDED.version, state = EXCLUDED.state, saved_at = now()
WHERE s.version < EXCLUDED.version
"""


@cache
def fold_digest() -> str | None:
    """The sha256 of the code that shapes a fold, or None if it cannot be read (snapshots off)."""
    shaping: tuple[ModuleType, ...] = (ledger, state_codec, vocabulary, catalogue)
    digest = hashlib.sha256()
    try:
        for module in (*shaping, sys.modules[__name__]):
            digest.update(Path(str(module.__file__)).read_bytes())
    except (OSError, TypeError):
        return None
    return digest.hexdigest()


def read_state(store: EventStore, name: str) -> EnvironmentState:
    """The environment's state now: its snapshot, and the stream's events after it, folded."""
    fold = fold_digest()
    snapshot = _load(store, name, fold) if fold else None
    state = snapshot if snapshot is not None else EnvironmentState(name)
    # The versions after the snapshot's, in version order: the state ends exactly at the
    # stream's last version as this read saw it (see the module's docstring).
    tail = store.read_stream(environment_stream(name), from_version=state.version + 1)
    for event in tail:
        state.apply(event)
    if fold and (len(tail) > REFRESH_AFTER or (tail and _built_any(state))):
        _save(store, state, fold)
    return state


def _built_any(state: EnvironmentState) -> bool:
    """True if folding the tail built a service's history from the snapshot.

    Then the next read would build it again, for as long as the snapshot stands before
    that event: in an environment with one busy service, every read after each new
    event. Saving once costs about what one such build does, and the next reads find it.
    """
    return any(isinstance(s, ArchivedService) and s.built for s in state.services.values())


def rebuild_snapshots(store: EventStore, names: Iterable[str]) -> int:
    """Forget every snapshot, then fold each environment of `names` anew and save it."""
    forget_snapshots(store)
    fold, saved = fold_digest(), 0
    if fold is None:
        return 0
    for name in names:
        state = ledger.read_environment(store, name)
        if state.version >= 0:
            _save(store, state, fold)
            saved += 1
    return saved


def forget_snapshots(store: EventStore) -> None:
    """Delete every snapshot: the next read of each environment folds its whole stream."""
    with store.connection() as conn:
        conn.execute("DELETE FROM env_state_snapshots")


def _load(store: EventStore, name: str, fold: str) -> EnvironmentState | None:
    """The saved state of `name` under this fold, if any."""
    with store.connection() as conn:
        row = conn.execute(_LOAD, (name, fold)).fetchone()
    if row is None:
        return None
    try:
        return decode_state(name, row[0], row[1])
    except (KeyError, TypeError, ValueError) as problem:  # pydantic's and orjson's are ValueErrors
        # Only a hand-edited row can get here; the stream is the truth, so fold it instead.
        logger.warning(
            "environment %s: snapshot unreadable (%s); folding the stream", name, problem
        )
        return None


def _save(store: EventStore, state: EnvironmentState, fold: str) -> None:
    """Save `state` unless a newer one is saved already; a read-only server skips it."""
    text = encode_state(state).decode()
    try:
        with store.connection() as conn:
            conn.execute(_SAVE, (state.name, fold, state.version, text))
    except psycopg.errors.ReadOnlySqlTransaction:
        logger.debug("environment %s: snapshot not saved on a read-only server", state.name)
