"""The PostgreSQL server a benchmark uses, and stopping it again when the benchmark ends."""

from __future__ import annotations

import atexit
import os

from app.database import embedded_pid, start_embedded, stop_embedded
from bench.paths import BENCH_HOME


def bench_admin_url() -> str:
    """SHIPLOG_BENCH_DATABASE_URL, else the embedded server under .bench-home/.

    An embedded server this process started is stopped when the process exits, so a
    benchmark leaves no server running that was not running before it.
    """
    url = os.environ.get("SHIPLOG_BENCH_DATABASE_URL")
    if url:
        return url
    started = embedded_pid(BENCH_HOME) is None
    url = start_embedded(BENCH_HOME)
    if started:
        atexit.register(stop_embedded, BENCH_HOME)
    return url
