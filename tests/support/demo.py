"""The ledger `shiplog demo` leaves, made once per session and copied for each test.

The demo builds, tests, pushes, scans, reproduces and delivers its example through
canary and blue/green deployments: about half a minute, and a quarter more to take its
services off the swarm. Tests that look at what it left (its output, its ledger, the
pages over it) each get their own copy of its database and home, so they neither pay
for it again nor see each other's changes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.config import get_settings
from app.database import Database
from tests.support.databases import copied_database, disconnect_everyone
from tests.support.delivery import remove_services


@dataclass(frozen=True)
class DemoLedger:
    """What one `shiplog demo` left: its output, its database (a template now) and home."""

    output: str
    database: Database
    home: Path


@pytest.fixture(scope="session")
def demo_ledger(
    admin_url: str,
    template_database: str,
    docker_client: Any,
    busybox_image: str,
    swarm: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DemoLedger]:
    """Run `shiplog demo` once, on a database and home of its own, and keep what it left."""
    home = tmp_path_factory.mktemp("demo") / "home"
    with copied_database(admin_url, template_database, prefix="shiplog_demo") as database:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SHIPLOG_HOME", str(home))
            patch.setenv("SHIPLOG_DATABASE_URL", database.app_url)
            patch.setenv("SHIPLOG_OWNER_DATABASE_URL", database.owner_url or "")
            get_settings.cache_clear()
            try:
                result = CliRunner().invoke(app, ["demo"])
            finally:
                get_settings.cache_clear()
                # The demo leaves its services running for a newcomer; the pages read only
                # the ledger.
                remove_services(swarm, "shiplog-demo-")
        assert result.exit_code == 0, result.output
        # Pools the demo opened in this process would keep the database from being copied.
        disconnect_everyone(admin_url, database.location)
        yield DemoLedger(result.output, database, home)


@pytest.fixture
def demo_database(admin_url: str, demo_ledger: DemoLedger, tmp_path: Path) -> Iterator[Database]:
    """A copy of the demo's database, and of its home at the test's (`tmp_path/home`)."""
    shutil.copytree(demo_ledger.home, tmp_path / "home")
    with copied_database(admin_url, demo_ledger.database.location) as copy:
        yield copy
