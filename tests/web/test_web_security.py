"""The pages work under their Content-Security-Policy: Chromium reports no violation on any page.

Every page of a recorded history, and a running run whose live log and summary
update, are opened in Debian's Chromium against a real server, signed in as a
viewer; a listener added before any page script records each
`securitypolicyviolation`, and the live updates must arrive (so the feeds and
fetches the policy allows really work).
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.config import Settings
from app.executor.logs import StepLogWriter
from app.projections import projector
from app.services.access import Role
from events.catalogue import Metadata
from events.store import ANY, EventStore
from events.vocabulary import RunClaimed, StepStarted
from tests.support.access import token
from tests.support.browser import sign_in
from tests.support.factories import queued
from tests.support.web_history import DIGEST, record_history
from tests.support.web_server import serving

RUNNING = "7a1c2e3d-4b5f-4a6b-8c7d-9e0f1a2b3c4d"
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def violations(page: Any) -> list[str]:
    """The violations the page recorded so far."""
    found: list[str] = page.evaluate("window.__violations")
    return found


def test_every_page_and_its_live_updates_run_without_a_policy_violation(
    browser: Any, client: TestClient, store: EventStore, settings: Settings
) -> None:
    history = record_history(store, client)
    meta = Metadata(actor="alice", source="test")
    started = StepStarted(step="build", image="x", commands_digest="y")
    store.append(f"run-{RUNNING}", [queued(), RunClaimed(runner="r", runner_version="1"),
                                    started], ANY, meta)  # fmt: skip
    projector(store).catch_up_all()
    pages = [
        "/",
        f"/runs/{history.run_id}",
        f"/images/{DIGEST}",
        "/environments",
        "/environments/production",
        "/velocity",
        "/ledger",
        "/search?q=web",
        "/no-such-page",
    ]
    visitor = token(store, "visitor", Role.VIEWER)
    with serving(settings) as base:
        context = browser.new_context()
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        sign_in(page, base, visitor)  # the sign-in page itself is checked on the way
        assert violations(page) == []
        for path in pages:
            page.goto(base + path)
            page.wait_for_load_state("load")
            assert violations(page) == [], path
        # A running run: its log feed (EventSource) and summary (fetch) must get through.
        page.goto(f"{base}/runs/{RUNNING}")
        with StepLogWriter(store.conninfo, RUNNING, "build") as log:
            log.write("hello from the live log\n")
        page.locator("#step-build pre", has_text="hello from the live log").wait_for(timeout=30_000)
        page.goto(base + "/")
        page.locator("[data-live-status][data-state=open]").wait_for(timeout=30_000)
        assert violations(page) == []
        context.close()
