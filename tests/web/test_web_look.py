"""Every page after `shiplog demo`, in Chromium at 1280 and 390 px: accessible, nothing sideways.

The demo's data is made by the demo itself (build, test, push, scan, reproduce);
deployments to staging and production and an incident are reported through the
API with a deployer's and an operator's tokens, as another tool would, so the
environment and velocity pages have content too. Chromium signs in with a viewer's
token; the sign-in page itself is checked signed out. Each page is then opened in a
light colour scheme at desktop and phone width, and must

- have no serious or critical axe-core violation (axe-playwright-python bundles
  axe-core; nothing is downloaded),
- not scroll sideways, and leave no cell that holds details clipped
  (scrollWidth equals clientWidth),
- give every chart (an SVG) a text alternative: role img and a name,

and a screenshot of each is saved under test-artifacts/web/ to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from app.config import Settings
from app.database import Database
from app.services.access import Role
from events.store import EventStore
from events.vocabulary import ImagePushed, RunQueued
from tests.support.access import bearer, token
from tests.support.browser import shot, sign_in
from tests.support.runs import wait_until
from tests.support.web_server import serving

WIDTHS = {"desktop": 1280, "phone": 390}
GRAVE = ("serious", "critical")
# Cells that hold what happened, and the parts of tables that must never be cut off.
DETAIL_CELLS = "td.details, td.stream, td.type, td.actor, #findings td, #reproductions td"
OVERFLOW = """
(selector) => {
  const root = document.documentElement;
  const unnamed = [...document.querySelectorAll("main svg")]
    .filter((svg) => svg.getAttribute("aria-hidden") !== "true")
    .filter((svg) => svg.getAttribute("role") !== "img"
      || !(svg.getAttribute("aria-label") || svg.getAttribute("aria-labelledby")))
    .map((svg) => svg.outerHTML.slice(0, 80));
  const clipped = [...document.querySelectorAll(selector)]
    .filter((cell) => cell.scrollWidth > cell.clientWidth + 1)
    .map((cell) => cell.textContent.trim().slice(0, 60));
  return {page: root.scrollWidth, view: root.clientWidth, clipped: clipped, unnamed: unnamed};
}
"""


@pytest.fixture
def database(demo_database: Database) -> Database:
    """Every test here starts from a copy of the ledger the demo left."""
    return demo_database


@pytest.fixture
def demo_site(settings: Settings, store: EventStore) -> Iterator[tuple[str, dict[str, str], str]]:
    """The demo's data served by `shiplog serve`: (base URL, page name → path, viewer token)."""
    events = store.read_all()
    # The demo runs its pipeline once per version it delivers: the first run's pages.
    queued = next(e for e in events if isinstance(e.data, RunQueued))
    run_id = queued.stream.removeprefix("run-")
    pushed = next(
        e.data for e in events if isinstance(e.data, ImagePushed) and e.stream == queued.stream
    )
    viewer = token(store, "viewer", Role.VIEWER)
    with serving(settings) as base:
        report_deployments(base, store, pushed.digest, run_id)
        signed = {"Authorization": f"Bearer {viewer}"}

        def caught_up() -> bool:
            page = httpx.get(f"{base}/images/{pushed.digest}", headers=signed)
            return "running now" in page.text

        wait_until(caught_up, timeout=30, what="the image page to show the deployments")
        yield (
            base,
            {
                "timeline": "/",
                "timeline-run": f"/?stream=run-{run_id}",
                "run": f"/runs/{run_id}",
                "image": f"/images/{pushed.digest}",
                "environments": "/environments",
                "environment": "/environments/production",
                "velocity": "/velocity",
                "ledger": "/ledger",
                "search": "/search?q=1.0.0",
                "not-found": "/images/sha256:" + "9" * 64,
            },
            viewer,
        )


def report_deployments(base: str, store: EventStore, digest: str, run_id: str) -> None:
    """Staging then production run the demo's image; production had an incident, resolved."""
    headers = bearer(store, "deployer", Role.DEPLOYER)
    for environment in ("staging", "production"):
        for status in ("started", "succeeded"):
            response = httpx.post(f"{base}/api/deployments", headers=headers, json={
                "environment": environment, "service": "hello", "image_digest": digest,
                "status": status, "deployment_id": f"demo-{environment}", "run_id": run_id,
            })  # fmt: skip
            assert response.status_code == 201, response.text
    operator = bearer(store, "operator", Role.OPERATOR)
    for body in (
        {"incident_id": "demo-1", "environment": "production", "service": "hello",
         "summary": "greetings answered slowly", "caused_by_deployment": "demo-production"},
        {"incident_id": "demo-1", "resolved": True, "resolution": "scaled out"},
    ):  # fmt: skip
        response = httpx.post(f"{base}/api/incidents", headers=operator, json=body)
        assert response.status_code in (200, 201), response.text


def test_every_page_after_the_demo_is_accessible_and_fits_at_desktop_and_phone_width(
    browser: Any,
    demo_site: tuple[str, dict[str, str], str],
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    base, pages, viewer = demo_site
    axe = Axe()
    problems: list[str] = []
    for size, width in WIDTHS.items():
        context = browser.new_context(viewport={"width": width, "height": 900},
                                      color_scheme="light")  # fmt: skip
        page = context.new_page()
        page.goto(f"{base}/signin")
        page.wait_for_load_state("load")
        problems += look_problems(page, axe, "signin", width)
        shot(page, f"signin-{size}")
        sign_in(page, base, viewer)
        for name, path in pages.items():
            page.goto(base + path)
            page.wait_for_load_state("load")
            problems += look_problems(page, axe, name, width)
            shot(page, f"{name}-{size}")
        context.close()
    assert not problems, "\n".join(problems)


def look_problems(page: Any, axe: Any, name: str, width: int) -> list[str]:
    """What is wrong with the open page: sideways scrolling, clipped cells, axe violations."""
    problems: list[str] = []
    fit = page.evaluate(OVERFLOW, DETAIL_CELLS)
    if fit["page"] > fit["view"]:
        problems.append(f"{name} at {width} px scrolls sideways: {fit['page']} px wide")
    problems += [f"{name} at {width} px clips the cell {c!r}" for c in fit["clipped"]]
    problems += [f"{name}: a chart without a text alternative: {s}" for s in fit["unnamed"]]
    results = axe.run(page)
    grave = [v for v in results.response["violations"] if v["impact"] in GRAVE]
    for violation in grave:
        where = [" ".join(node["target"]) for node in violation["nodes"][:3]]
        what = f"{violation['id']} ({violation['impact']}): {violation['help']}"
        problems.append(f"{name} at {width} px: axe {what} at {where}")
    return problems
