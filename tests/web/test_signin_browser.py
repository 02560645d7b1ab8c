"""Signing in, CSRF and signing out in a real browser (Chromium) against a real server.

Another origin on the same machine (127.0.0.1, another port) is the same *site*
to a browser, so it sends the SameSite=Strict session cookie along with a form
that page submits: only the CSRF token stops that form, and this test proves it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.config import Settings
from app.credentials import SESSION_COOKIE
from app.services.access import Role
from events.store import EventStore
from tests.support.access import token
from tests.support.browser import sign_in
from tests.support.web_server import serving

ATTACK = """<!doctype html><title>win a prize</title>
<form id="f" method="post" action="{target}">
<input name="environment" value="production"><input name="service" value="web">
</form><script>document.getElementById("f").submit()</script>"""


@pytest.fixture
def attacker() -> Iterator[Any]:
    """A page on another origin of this machine that posts a form to a given URL."""

    class Handler(BaseHTTPRequestHandler):
        target = ""

        def do_GET(self) -> None:
            body = ATTACK.format(target=Handler.target).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.handler = Handler  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_visitor_signs_in_is_protected_from_a_cross_origin_form_and_signs_out(
    browser: Any, settings: Settings, store: EventStore, attacker: Any
) -> None:
    secret = token(store, "alice", Role.VIEWER, Role.DEPLOYER)
    with serving(settings) as base:
        context = browser.new_context()
        page = context.new_page()
        page.goto(base + "/ledger")
        page.wait_for_url(f"{base}/signin?next=%2Fledger")  # not signed in: to the form
        page.fill("#signin-token", secret)
        page.click("form.signin button[type=submit]")
        page.wait_for_url(f"{base}/ledger")
        assert page.locator("[data-actor]").inner_text() == "alice"

        [cookie] = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
        assert SESSION_COOKIE not in page.evaluate("document.cookie")  # no script reads it

        # Another origin's page submits a form to the API with the browser's cookie.
        attacker.handler.target = f"{base}/api/deployments"
        evil = context.new_page()
        evil.goto(f"http://127.0.0.1:{attacker.server_address[1]}/")
        evil.wait_for_url(f"{base}/api/deployments")
        assert "CSRF" in evil.content() or "another site" in evil.content()
        assert store.read_stream("env-production") == []
        [denied] = store.read_stream("access-alice")
        assert denied.data.credential == "session"  # type: ignore[attr-defined]

        # The same for the sign-out form: the visitor stays signed in.
        attacker.handler.target = f"{base}/signout"
        evil.goto(f"http://127.0.0.1:{attacker.server_address[1]}/")
        evil.wait_for_url(f"{base}/signout")
        page.reload()
        assert page.locator("[data-actor]").inner_text() == "alice"

        # The page's own sign-out button carries the token: out, and the pages are closed.
        page.click("header .who button[type=submit]")
        page.wait_for_url(f"{base}/signin")
        page.goto(base + "/ledger")
        page.wait_for_url(f"{base}/signin?next=%2Fledger")
        sign_in(page, base, secret)  # and back in, through the helper the other tests use
        context.close()
