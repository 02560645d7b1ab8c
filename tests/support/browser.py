"""Debian's Chromium through Playwright for the browser tests, signing in, and screenshots.

No browser is downloaded: Chromium is Debian's (`apt-get install chromium`, which
.ci/run does). Without it a browser test is skipped, or fails under
SHIPLOG_REQUIRE_BROWSER=1 or SHIPLOG_REQUIRE_DOCKER=1 (as in CI).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.paths import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "web"  # git-ignored


def browser_missing(reason: str) -> None:
    """Fail where a browser is required (CI), else skip."""
    if "1" in (os.environ.get("SHIPLOG_REQUIRE_BROWSER"), os.environ.get("SHIPLOG_REQUIRE_DOCKER")):
        pytest.fail(f"a browser is required but: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright's sync API."""
    from playwright.sync_api import Error, sync_playwright

    if not Path(CHROMIUM).exists():
        browser_missing(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except Error as error:
            browser_missing(f"Chromium did not start: {error}")
        try:
            yield chromium
        finally:
            chromium.close()


def sign_in(page: Any, base: str, secret: str) -> None:
    """Sign `page`'s browser context in with the token `secret`, through the sign-in form."""
    page.goto(f"{base}/signin")
    page.fill("#signin-token", secret)
    page.click("form.signin button[type=submit]")
    page.wait_for_url(f"{base}/")


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot of `page` as test-artifacts/web/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
