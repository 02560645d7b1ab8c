"""Riding out a database restart: retry what failed because the connection was lost.

A PostgreSQL restart (fast shutdown, then start) terminates every connection; for a
few seconds new ones are refused, then the server answers again. Work that failed
only because its connection went away can be repeated once the server is back,
provided repeating it is safe: a read always is, and an append is when it carries
the same event ids (the ledger recognises a batch it already holds and answers with
its positions instead of writing it twice). Any other error is raised at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
from psycopg_pool import PoolTimeout

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_RETRY_SECONDS = 30.0
FIRST_DELAY = 0.1
MAX_DELAY = 1.0

# SQLSTATEs of a server going away or not ready: class 08 (connection exception),
# admin_shutdown, crash_shutdown, cannot_connect_now (starting up or shutting down).
_GONE = ("57P01", "57P02", "57P03")


def disconnected(error: BaseException) -> bool:
    """Whether `error` means the connection to the server was lost or refused, nothing else."""
    if isinstance(error, PoolTimeout):
        return True  # no connection could be had in time: the server is away
    if not isinstance(error, psycopg.OperationalError):
        return False
    state = error.sqlstate
    return state is None or state.startswith("08") or state in _GONE


def retrying(work: Callable[[], T], seconds: float, *, what: str) -> T:
    """Run `work`, again and again while it fails for a lost connection, for up to `seconds`.

    `work` must be safe to repeat. The last error is raised once the time is up.
    """
    deadline = time.monotonic() + seconds
    delay = FIRST_DELAY
    while True:
        try:
            return work()
        except Exception as error:
            if not disconnected(error) or time.monotonic() + delay > deadline:
                raise
            log.warning("%s: lost the database (%s); retrying", what, str(error).strip())
        time.sleep(delay)
        delay = min(delay * 2, MAX_DELAY)
