"""Signing in to the pages: a token becomes a session cookie; CSRF on every change; out again.

Over the whole application (real PostgreSQL). The browser's side of it, cookies
and a cross-origin form included, is in test_signin_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.credentials import SESSION_COOKIE
from app.projections import projector
from app.services.access import Role
from app.services.sessions import create_signin_link
from app.services.tokens import revoke_tokens
from events.store import EventStore
from tests.support.access import token
from tests.support.html_tree import check_page

DEPLOYMENT = {"environment": "production", "service": "web", "image_digest": "sha256:" + "ab" * 32,
              "status": "succeeded", "deployment_id": "dep-1"}  # fmt: skip


@pytest.fixture
def browser(web_app: FastAPI, client: TestClient, store: EventStore) -> TestClient:
    """A client with no credential but what it signs in with (cookies kept, no redirects).

    It shares the application `client` started (and its lifespan).
    """
    projector(store).catch_up_all()  # the pages read the projections
    return TestClient(web_app, follow_redirects=False)


def form_csrf(page: str) -> str:
    """The hidden csrf_token of the first form on `page`."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


def sign_in(visitor: TestClient, secret: str, target: str = "/") -> str:
    """Sign in through the form; the page it leads to."""
    form = visitor.get("/signin", params={"next": target})
    response = visitor.post(
        "/signin", data={"token": secret, "csrf_token": form_csrf(form.text), "next": target}
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def test_the_sign_in_page_and_a_signed_in_page_are_well_formed_and_labelled(
    browser: TestClient, store: EventStore
) -> None:
    form = check_page(browser.get("/signin").text)
    assert form.find("input", name="token").attrs["type"] == "password"
    sign_in(browser, token(store, "alice", Role.VIEWER))
    page = check_page(browser.get("/").text)
    signout = page.find("form", action="/signout")
    assert signout.find("input", name="csrf_token").attrs["type"] == "hidden"


def test_an_anonymous_visitor_is_sent_to_sign_in_and_back(
    browser: TestClient, store: EventStore
) -> None:
    first = browser.get("/environments?x=1")
    assert first.status_code == 303
    assert first.headers["location"] == "/signin?next=%2Fenvironments%3Fx%3D1"
    secret = token(store, "alice", Role.VIEWER)
    assert sign_in(browser, secret, "/environments?x=1") == "/environments?x=1"
    page = browser.get("/environments")
    assert page.status_code == 200
    assert "Signed in as <strong data-actor>alice</strong>" in page.text


def test_the_session_cookie_is_httponly_samesite_strict_and_holds_no_token(
    browser: TestClient, store: EventStore
) -> None:
    secret = token(store, "alice", Role.VIEWER)
    form = browser.get("/signin")
    response = browser.post("/signin", data={"token": secret, "csrf_token": form_csrf(form.text)})
    cookie = next(
        header
        for header in response.headers.get_list("set-cookie")
        if header.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert secret not in cookie
    assert response.headers["Cache-Control"] == "no-store"


def test_signing_in_without_the_forms_csrf_secret_is_refused(
    browser: TestClient, store: EventStore
) -> None:
    secret = token(store, "alice", Role.VIEWER)
    browser.get("/signin")
    response = browser.post("/signin", data={"token": secret, "csrf_token": "guess"})
    assert response.status_code == 403
    assert SESSION_COOKIE not in browser.cookies
    assert browser.get("/").status_code == 303  # still not signed in


def test_a_wrong_token_is_refused_and_the_attempt_recorded(
    browser: TestClient, store: EventStore
) -> None:
    form = browser.get("/signin")
    response = browser.post(
        "/signin", data={"token": "shiplog_wrong", "csrf_token": form_csrf(form.text)}
    )
    assert response.status_code == 401
    assert "not one this server made" in response.text
    [denied] = store.read_stream("access-anonymous@testclient")
    assert denied.data.action == "POST /signin"  # type: ignore[attr-defined]


def test_a_signed_in_write_needs_the_pages_csrf_token(
    browser: TestClient, store: EventStore
) -> None:
    secret = token(store, "dora", Role.DEPLOYER)
    sign_in(browser, secret)
    page = browser.get("/")
    csrf = form_csrf(page.text)  # the sign-out form's
    refused = browser.post("/api/deployments", json=DEPLOYMENT)
    assert refused.status_code == 403
    assert "CSRF token" in refused.json()["detail"]
    [denied] = store.read_stream("access-dora")
    assert denied.data.credential == "session"  # type: ignore[attr-defined]
    other_site = browser.post(
        "/api/deployments",
        json=DEPLOYMENT,
        headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"},
    )
    assert other_site.status_code == 403 and "another site" in other_site.json()["detail"]
    accepted = browser.post("/api/deployments", json=DEPLOYMENT, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 201, accepted.text
    assert {e.metadata.actor for e in store.read_stream("env-production")} == {"dora"}


def test_signing_out_needs_the_csrf_token_and_ends_the_session_on_the_server(
    browser: TestClient, store: EventStore
) -> None:
    secret = token(store, "alice", Role.VIEWER)
    sign_in(browser, secret)
    cookie = browser.cookies[SESSION_COOKIE]
    csrf = form_csrf(browser.get("/").text)
    assert browser.post("/signout", data={"csrf_token": "forged"}).status_code == 403
    assert browser.get("/").status_code == 200  # still signed in
    out = browser.post("/signout", data={"csrf_token": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    browser.cookies.set(SESSION_COOKIE, cookie)  # a copy of the old cookie is worth nothing
    assert browser.get("/").status_code == 303


def test_revoking_the_token_ends_its_sessions(browser: TestClient, store: EventStore) -> None:
    secret = token(store, "alice", Role.VIEWER)
    sign_in(browser, secret)
    assert browser.get("/").status_code == 200
    revoke_tokens(store, "alice", "test")
    assert browser.get("/").status_code == 303


def test_a_one_time_link_signs_in_once(browser: TestClient, store: EventStore) -> None:
    code = create_signin_link(store, "alice@laptop", frozenset({Role.ADMIN}))
    first = browser.get("/signin", params={"code": code})
    assert first.status_code == 303 and first.headers["location"] == "/"
    assert first.headers["Referrer-Policy"] == "no-referrer"
    assert "alice@laptop" in browser.get("/").text
    browser.cookies.clear()
    again = browser.get("/signin", params={"code": code})
    assert again.status_code == 401 and "used already" in again.text


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_the_page_after_signing_in_is_always_on_this_server(
    browser: TestClient, store: EventStore, target: str
) -> None:
    secret = token(store, "alice", Role.VIEWER)
    assert sign_in(browser, secret, target) == "/"


def test_a_signed_in_user_without_viewer_gets_a_403_page_saying_what_is_needed(
    browser: TestClient, store: EventStore
) -> None:
    secret = token(store, "tool", Role.INTEGRATION)
    sign_in(browser, secret)
    page = browser.get("/")
    assert page.status_code == 403
    assert "needs the role viewer" in page.text


@pytest.mark.parametrize("host", ["evil.example", "rebound.attacker.test:8080"])
def test_a_request_for_another_host_name_is_refused(client: TestClient, host: str) -> None:
    response = client.get("/api/events", headers={"Host": host})
    assert response.status_code == 400
    assert "Invalid host header" in response.text


def test_the_page_header_offers_sign_in_to_a_visitor_when_reads_are_public(
    web_app: FastAPI, client_as: Callable[..., TestClient]
) -> None:
    web_app.state.settings = web_app.state.settings.model_copy(update={"public_read": True})
    page = client_as().get("/")
    assert page.status_code == 200
    assert '<a href="/signin">Sign in</a>' in page.text
