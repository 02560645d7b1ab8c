"""`shiplog demo` end to end: it delivers, scans and reproduces its example, then verifies."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.database import Database
from app.projections import projector
from app.queries.velocity import velocity_report
from events.store import EventStore
from tests.support.demo import DemoLedger


@pytest.fixture
def database(demo_database: Database) -> Database:
    """Every test here starts from a copy of the ledger the demo left."""
    return demo_database


def test_demo_delivers_scans_and_reproduces_the_example_then_seals_and_verifies(
    cli: CliRunner, demo_ledger: DemoLedger, store: EventStore
) -> None:
    for printed in (
        "● ImageBuilt",
        "● TestsReported",
        "● ImagePushed",
        "● SbomGenerated",
        "● ScanCompleted",
        "SHIPLOG-DEMO-2026-0001",  # the demo's advisory set has a finding
        "● ProvenanceSigned",
        "delivered 1.1.0 to staging",
        "canary step 3: 100%",
        "canary promoted after 3 steps",
        "the registry holds hello:1.1.0 as sha256:",
        "reproduced sha256:",
    ):
        assert printed in demo_ledger.output, printed
    assert re.search(r"ledger verified: (\d+) events", demo_ledger.output)
    production = [e.type_name for e in store.read_stream("env-production")]
    assert production.count("DeploymentSucceeded") == 2 and "CanaryPromoted" in production
    assert production.count("ApprovalGranted") == 2
    projector(store).catch_up_all()
    report = velocity_report(store, ["production"])
    (hello,) = report.groups
    assert hello.deployments == 2 and hello.lead_time.count == 2
    assert hello.lead_time_from_commit_time == 2

    verified = cli.invoke(app, ["verify"])
    assert verified.exit_code == 0, verified.output
