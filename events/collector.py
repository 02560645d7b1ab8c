"""Pausing Python's cyclic garbage collector while a large, acyclic result is built.

Building thousands of objects that all survive (a page of decoded events, the entries
of an advisory look-up) makes the collector run again and again, each time walking
everything the process holds that is young enough, the growing result included: on
these workloads that doubled the CPU time (docs/benchmarks.md). The objects built form
no cycles, so those runs find nothing; paused for the block, the collector runs as
usual as soon as it ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_collector() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block, if it is on.

    Only the thread that found it on switches it back on, so nested or concurrent
    pauses leave it on; a caller that switches it off in another thread meanwhile
    finds it on again once the block ends.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
