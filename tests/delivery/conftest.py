"""Delivery tests decide through environment snapshots: every read that folded an event saves one.

A snapshot is saved in production only once 64 events were folded past the last one,
which the short streams of these tests never reach; with this, every decision and
page after the first reads a snapshot and folds on from it, so each test here also
proves the snapshot path decides exactly as the whole stream folded.
"""

from __future__ import annotations

import pytest

from app.delivery import snapshots


@pytest.fixture(autouse=True)
def snapshot_every_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Save a snapshot whenever a read folded anything past the last one."""
    monkeypatch.setattr(snapshots, "REFRESH_AFTER", 0)
