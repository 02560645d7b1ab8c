"""End to end in a real browser: Debian's Chromium driven by Playwright, a real server and run.

The timeline is opened first; then a real pipeline (build, test in the image,
a slow step, push to a loopback registry) is queued and worked by a runner, and
its events must appear on the open page without a reload. Then the visitor
follows run → image → environment, and uses the search box. A screenshot of
each page is saved under test-artifacts/web/.

The browser (tests/support/browser.py) signs in with a token first, as a person
would; the API calls the test makes carry tokens of their own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from typer.testing import CliRunner

from app.config import Settings
from app.database import Database
from app.services.access import Role
from events.store import EventStore
from events.vocabulary import ImagePushed, StepStarted
from tests.support.access import bearer, token
from tests.support.browser import shot, sign_in
from tests.support.runs import (
    fast_settings,
    hello_app,
    hello_pipeline,
    of_type,
    queue_detached,
    run_events,
    unique_name,
    wait_until,
    working,
)
from tests.support.web_server import serving

pytestmark = pytest.mark.usefixtures("leftover_guard")  # nothing left on the engine

SLOW_STEP = """
  - name: slow
    image: {tag}
    depends_on: [test]
    commands:
      - echo first line
      - sleep 8
      - echo second line
"""


def with_slow_step(pipeline: str, tag: str) -> str:
    """`pipeline` with a step that logs a line, waits, and logs another, before the push."""
    head, push = pipeline.split("  - name: push", 1)
    return head.rstrip("\n") + "\n" + SLOW_STEP.format(tag=tag) + "\n  - name: push" + push


def test_a_visitor_watches_a_run_live_and_follows_it_to_its_image_and_environment(
    browser: Any,
    cli: CliRunner,
    store: EventStore,
    database: Database,
    settings: Settings,
    docker_client: Any,
    busybox_image: str,
    registry: Any,
    runners: Any,
    tmp_path: Path,
) -> None:
    tag = f"{unique_name('shiplog-test/web')}:1.0.0"
    push_repository = f"{registry.address}/{unique_name('shiplog-test/web-pushed')}"
    pipeline = with_slow_step(hello_pipeline(tag, push_repository, ("1.0.0",)), tag)
    repo = hello_app(tmp_path / "hello", pipeline)
    runner = runners(fast_settings(tmp_path / "runner", database), "web-e2e")

    visitor = token(store, "visitor", Role.VIEWER)
    deployer = bearer(store, "deployer", Role.DEPLOYER)
    with serving(settings) as base:
        signed_in = browser.new_context(viewport={"width": 1280, "height": 900})
        page = signed_in.new_page()
        sign_in(page, base, visitor)
        page.goto(base + "/")
        assert page.locator("#timeline-empty").is_visible()
        # Keyboard first: Tab reaches the skip link, which leads to the content.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Enter")
        page.wait_for_url("**#main", timeout=5000)  # the fragment lands after the key event
        page.evaluate("window.__notReloaded = true")

        # Queue a run: its RunQueued row appears on the open page.
        run_id = queue_detached(cli, repo)
        rows = page.locator("#timeline-rows tr")
        page.locator("#timeline-rows tr", has_text="RunQueued").wait_for(timeout=30_000)
        with working(runner):
            wait_until(
                lambda: any(
                    s.step == "slow" for s in of_type(run_events(store, run_id), StepStarted)
                ),
                timeout=180,
                what="the slow step to start",
            )
            # The run page while the step runs: its log grows without a reload.
            run_page = signed_in.new_page()
            run_page.goto(f"{base}/runs/{run_id}")
            log = run_page.locator("#step-slow pre")
            log.wait_for()
            assert log.get_attribute("data-live-log"), "the slow step should still be running"
            assert "second line" not in log.inner_text()
            run_page.evaluate("window.__notReloaded = true")
            run_page.locator("#step-slow pre", has_text="second line").wait_for(timeout=60_000)
            run_page.locator("#run-heading", has_text="succeeded").wait_for(timeout=120_000)
            assert run_page.evaluate("window.__notReloaded") is True
            shot(run_page, "run-live")

        page.locator("#timeline-rows tr", has_text="RunSucceeded").wait_for(timeout=60_000)
        assert page.evaluate("window.__notReloaded") is True, "the timeline was reloaded"
        types = rows.locator("td:nth-child(2)").all_inner_texts()
        assert types[0] == "RunSucceeded" and types[-1] == "RunQueued"
        assert len(types) == len(run_events(store, run_id))
        shot(page, "timeline")

        # run → image
        page.locator(f'#timeline-rows a[href="/runs/{run_id}"]').first.click()
        page.wait_for_url(f"**/runs/{run_id}")
        bars = page.locator("#run-summary svg g.bar title").all_text_contents()
        assert sorted(bar.split(":")[0] for bar in bars) == ["build", "push", "slow", "test"]
        shot(page, "run")
        [pushed] = of_type(run_events(store, run_id), ImagePushed)
        page.locator(f'a.ident-value[href="/images/{pushed.digest}"]').first.click()
        page.wait_for_url(f"**/images/{pushed.digest}")
        assert pushed.tag in page.locator("#pushes").inner_text()
        assert page.locator("text=Not deployed anywhere.").is_visible()

        # The image is deployed; the image page now leads to its environment.
        response = httpx.post(
            f"{base}/api/deployments",
            json={"environment": "production", "service": "hello",
                  "image_digest": pushed.digest, "status": "succeeded"},
            headers=deployer,
        )  # fmt: skip
        assert response.status_code == 201, response.text

        def deployed() -> bool:  # the server folds the new event within a moment
            page.reload()
            return page.locator("#placements").count() == 1

        wait_until(deployed, timeout=30, what="the image page to show the deployment")
        assert "running now" in page.locator("#placements").inner_text()
        provenance = page.locator("a[download]", has_text="SLSA provenance").get_attribute("href")
        statement = httpx.get(
            base + str(provenance), headers={"Authorization": f"Bearer {visitor}"}
        ).json()
        assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
        assert pushed.digest.removeprefix("sha256:") in json.dumps(statement["subject"])
        shot(page, "image")
        page.locator('#placements a[href="/environments/production"]').click()
        page.wait_for_url("**/environments/production")
        assert pushed.digest in str(page.locator("#running-now").text_content())
        shot(page, "environment")

        # The search box: a run id prefix goes to the run.
        page.fill("#search-q", run_id[:8])
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/runs/{run_id}")
        assert run_id in str(page.locator("h1").text_content())  # the id is cut visually only

        for name in ("ledger", "velocity"):
            page.goto(f"{base}/{name}")
            shot(page, name)
        phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        sign_in(phone, base, visitor)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"the timeline needs {width} px at phone width"
        shot(phone, "timeline-phone")
        for open_page in (page, run_page, phone):  # close their live feeds before the server
            open_page.close()
