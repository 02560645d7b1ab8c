"""Who may do what over HTTP: tokens, roles on every write route, reads, refusals recorded.

The write routes and the roles each needs are read from the application's route
table (`require` keeps its roles on the dependency as `.roles`), so a new write
route without a rule, or with a rule this table does not expect, fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from app.config import Settings
from app.server import create_app
from app.services.access import Role
from app.services.refusals import RefusalLimiter
from app.services.tokens import create_token, revoke_tokens
from events.store import EventStore
from tests.support.forge_payloads import commit, github_push, signed_github

SAFE = {"GET", "HEAD", "OPTIONS"}
# Every write route and the roles it accepts (admin always may). Empty: anyone (the
# route checks what it needs itself: signing in and out).
WRITE_RULES: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", "/api/deployments"): frozenset({Role.DEPLOYER, Role.INTEGRATION}),
    ("POST", "/api/incidents"): frozenset({Role.OPERATOR, Role.INTEGRATION}),
    ("POST", "/api/cdevents"): frozenset({Role.INTEGRATION, Role.DEPLOYER}),
    ("POST", "/api/repositories"): frozenset({Role.ADMIN}),
    ("DELETE", "/api/repositories/{identity:path}"): frozenset({Role.ADMIN}),
    ("POST", "/api/notifications/targets"): frozenset({Role.ADMIN}),
    ("DELETE", "/api/notifications/targets/{name}"): frozenset({Role.ADMIN}),
    ("POST", "/signin"): frozenset(),
    ("POST", "/signout"): frozenset(),
    ("POST", "/hooks/{forge}"): frozenset(),
    # Delivery: moving an environment is the deployer's, deciding on it the approver's.
    ("POST", "/api/environments/{environment}/deployments"): frozenset({Role.DEPLOYER}),
    ("POST", "/api/environments/{environment}/promotions"): frozenset({Role.DEPLOYER}),
    ("POST", "/api/environments/{environment}/rollbacks"): frozenset({Role.DEPLOYER}),
    ("POST", "/api/environments/{environment}/unpins"): frozenset({Role.DEPLOYER}),
    ("POST", "/api/environments/{environment}/drift-checks"): frozenset({Role.OPERATOR}),
    ("POST", "/api/environments/{environment}/waivers"): frozenset({Role.APPROVER}),
    ("POST", "/api/environments/{environment}/deployments/{deployment_id}/approvals"): frozenset(
        {Role.APPROVER}
    ),
    ("POST", "/api/environments/{environment}/deployments/{deployment_id}/rejections"): frozenset(
        {Role.APPROVER}
    ),
    ("POST", "/deliveries"): frozenset({Role.DEPLOYER}),
    ("POST", "/environments/{environment}/promote"): frozenset({Role.DEPLOYER}),
    ("POST", "/environments/{environment}/rollback"): frozenset({Role.DEPLOYER}),
    ("POST", "/environments/{environment}/unpin"): frozenset({Role.DEPLOYER}),
    ("POST", "/environments/{environment}/deployments/{deployment_id}/approve"): frozenset(
        {Role.APPROVER}
    ),
    ("POST", "/environments/{environment}/deployments/{deployment_id}/reject"): frozenset(
        {Role.APPROVER}
    ),
}
# The writes that need no role, and what proves them instead: `anyone` (signing in and
# out check the token or session themselves) or `signed_by_forge` (a webhook's body is
# signed with the repository's secret, checked in app/services/webhooks.py).
UNGUARDED = {
    ("POST", "/signin"): "anyone",
    ("POST", "/signout"): "anyone",
    ("POST", "/hooks/{forge}"): "signed_by_forge",
}
# Reads anyone may make, signed in or not.
PUBLIC_READS = {"/healthz", "/readyz", "/api/whoami", "/signin", "/docs", "/openapi.json",
                "/docs/oauth2-redirect", "/redoc"}  # fmt: skip
DIGEST = "sha256:" + "ab" * 32


def route_table() -> FastAPI:
    """The application, for its routes only (nothing is started)."""
    return create_app(Settings(database_url="postgresql://unused/none"))


def routes() -> list[Any]:
    """Every route of the application with its effective dependencies (routers' included)."""
    return [r for r in iter_route_contexts(route_table().routes) if r.methods]


def rule_dependency(route: Any) -> Any:
    """The route's `require(...)`, `anyone` or `signed_by_forge` dependency; None if none."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if getattr(dependency.call, "roles", None) is not None:
            return dependency.call
        pending.extend(dependency.dependencies)
    return None


def rule_of(route: Any) -> frozenset[Role] | None:
    """The roles the route's `require` (or `anyone`) names; None if it names none."""
    rule = rule_dependency(route)
    return None if rule is None else frozenset(rule.roles)


def write_routes() -> list[tuple[str, str, frozenset[Role] | None]]:
    """(method, path, roles) of every route that changes something."""
    return sorted(
        (method, route.path, rule_of(route))
        for route in routes()
        for method in route.methods - SAFE
    )


def read_paths() -> list[str]:
    """Every path of a reading route, path parameters filled with a placeholder."""
    paths = {route.path for route in routes() if "GET" in route.methods}
    return sorted(p for p in paths if p not in PUBLIC_READS)


def allowed(role: Role, needed: frozenset[Role]) -> bool:
    """What the rules mean: admin does everything; operator, deployer, approver also read."""
    return role == Role.ADMIN or role in needed


GUARDED = [(m, p, roles) for m, p, roles in write_routes() if roles]
CASES = [(m, p, roles, role) for m, p, roles in GUARDED for role in Role]


def test_every_write_route_names_its_roles_and_they_are_the_expected_ones() -> None:
    found = {(method, path): roles for method, path, roles in write_routes()}
    unruled = sorted(f"{m} {p}" for (m, p), roles in found.items() if roles is None)
    assert not unruled, f"write routes without require(...) or anyone: {unruled}"
    assert found == WRITE_RULES


def test_the_writes_without_a_role_are_only_signing_in_and_out_and_signed_webhooks() -> None:
    found = {
        (method, route.path): rule_dependency(route).__name__
        for route in routes()
        for method in route.methods - SAFE
        if rule_of(route) == frozenset()
    }
    assert found == UNGUARDED


@pytest.mark.parametrize(
    ("method", "path", "needed", "role"),
    CASES,
    ids=[f"{m} {p} as {role.value}" for m, p, _, role in CASES],
)
def test_each_role_is_allowed_or_refused_on_each_write_route(
    client_as: Callable[..., TestClient],
    store: EventStore,
    method: str,
    path: str,
    needed: frozenset[Role],
    role: Role,
) -> None:
    caller = client_as(role)
    response = caller.request(method, path, json={})  # an empty body: past the guard, a 4xx
    if allowed(role, needed):
        assert response.status_code not in (401, 403), response.text
        assert store.read_stream(f"access-{role.value}") == []
    else:
        assert response.status_code == 403, response.text
        wanted = " or ".join(sorted(r.value for r in needed))
        assert "needs the role" in response.text  # the API's JSON and the pages' HTML alike
        [denied] = store.read_stream(f"access-{role.value}")
        assert denied.type_name == "AccessDenied"
        assert denied.metadata.actor == role.value
        assert denied.data.action == f"{method} {path}"  # type: ignore[attr-defined]
        assert set(denied.data.needed) == {r.value for r in needed}  # type: ignore[attr-defined]
        assert sorted(wanted.split(" or ")) == sorted(denied.data.needed)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in GUARDED])
def test_a_write_without_a_credential_is_a_401_with_a_bearer_challenge_or_a_sign_in(
    client_as: Callable[..., TestClient], store: EventStore, method: str, path: str
) -> None:
    response = client_as().request(method, path, json={}, follow_redirects=False)
    if path.startswith("/api/"):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    else:  # a page's form: a page that says so and links to the sign-in form
        assert response.status_code == 401, response.text
        assert 'href="/signin' in response.text, response.text
    [denied] = store.read_stream("access-anonymous@testclient")
    assert denied.data.credential == "none"  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", read_paths())
def test_every_read_needs_a_credential(client_as: Callable[..., TestClient], path: str) -> None:
    response = client_as().get(path.replace("{", "").replace("}", ""), follow_redirects=False)
    if path.startswith(("/api/", "/metrics")):
        assert response.status_code == 401, f"{path}: {response.status_code}"
    else:  # a page: to the sign-in form, then back
        assert response.status_code == 303, f"{path}: {response.status_code}"
        assert response.headers["location"].startswith("/signin?next=")


# --- identity comes from the credential -------------------------------------------------


def deployment(**changes: Any) -> dict[str, Any]:
    """A valid POST /api/deployments body."""
    body = {"environment": "production", "service": "web", "image_digest": DIGEST,
            "status": "succeeded", "deployment_id": "dep-1"}  # fmt: skip
    return body | changes


def test_a_forged_actor_header_is_ignored_and_the_token_name_is_recorded(
    client_as: Callable[..., TestClient], store: EventStore
) -> None:
    ci = client_as(Role.DEPLOYER, name="ci")
    forged = {"X-Shiplog-Actor": "release-manager@acme.com"}
    response = ci.post("/api/deployments", json=deployment(), headers=forged)
    assert response.status_code == 201, response.text
    events = store.read_stream("env-production")
    assert {event.metadata.actor for event in events} == {"ci"}
    assert ci.get("/api/whoami", headers=forged).json()["actor"] == "ci"


def test_a_forged_actor_header_without_a_token_writes_nothing(
    client_as: Callable[..., TestClient], store: EventStore
) -> None:
    forged = {"X-Shiplog-Actor": "release-manager@acme.com"}
    response = client_as().post("/api/deployments", json=deployment(), headers=forged)
    assert response.status_code == 401
    assert store.read_stream("env-production") == []


def test_whoami_names_the_token_its_roles_with_those_implied_and_how_it_was_proven(
    client_as: Callable[..., TestClient],
) -> None:
    assert client_as(Role.DEPLOYER, name="ci").get("/api/whoami").json() == {
        "actor": "ci",
        "roles": ["deployer", "viewer"],
        "credential": "token",
    }
    assert client_as().get("/api/whoami").json() == {
        "actor": "anonymous@testclient",
        "roles": [],
        "credential": "none",
    }


def test_reads_need_viewer_which_the_peoples_roles_imply_and_the_machines_do_not(
    client_as: Callable[..., TestClient],
) -> None:
    for role in (Role.VIEWER, Role.OPERATOR, Role.DEPLOYER, Role.APPROVER, Role.ADMIN):
        assert client_as(role).get("/api/events").status_code == 200, role
    for role in (Role.RUNNER, Role.INTEGRATION):
        response = client_as(role).get("/api/events")
        assert response.status_code == 403, role
        assert "needs the role viewer" in response.json()["detail"]


def test_public_read_opens_reads_to_anyone_but_not_writes(
    settings: Settings, store: EventStore
) -> None:
    app = create_app(settings.model_copy(update={"public_read": True}))
    with TestClient(app) as anyone:
        assert anyone.get("/api/events").status_code == 200
        assert anyone.get("/").status_code == 200
        assert anyone.post("/api/deployments", json=deployment()).status_code == 401


@pytest.mark.parametrize(
    "authorization",
    ["Bearer shiplog_not-a-token", "Basic dXNlcjpwYXNz", "Bearer", "shiplog_xyz"],
)
def test_a_bad_authorization_header_is_a_401_saying_why_even_for_a_read(
    client: TestClient, authorization: str
) -> None:
    response = client.get("/api/events", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    detail = response.json()["detail"]
    assert "not one this server made" in detail or "Bearer <token>" in detail


def test_a_revoked_or_expired_token_stops_working_at_once(
    client_as: Callable[..., TestClient], store: EventStore
) -> None:
    made = create_token(store, "temp", frozenset({Role.VIEWER}), "alice")
    headers = {"Authorization": f"Bearer {made.secret}"}
    caller = client_as()
    assert caller.get("/api/events", headers=headers).status_code == 200
    assert revoke_tokens(store, "temp", "alice") == 1
    refused = caller.get("/api/events", headers=headers)
    assert refused.status_code == 401
    assert "'temp' was revoked" in refused.json()["detail"]
    past = datetime.now(UTC) - timedelta(seconds=1)
    expired = create_token(store, "old", frozenset({Role.VIEWER}), "alice", expires_at=past)
    response = caller.get("/api/events", headers={"Authorization": f"Bearer {expired.secret}"})
    assert response.status_code == 401 and "expired" in response.json()["detail"]


# --- refusals are recorded, at a bounded rate -------------------------------------------


def test_a_flood_of_refused_writes_is_recorded_at_a_bounded_rate_and_counted(
    web_app: FastAPI, client_as: Callable[..., TestClient], store: EventStore
) -> None:
    now = [1000.0]
    web_app.state.refusals = RefusalLimiter(3, clock=lambda: now[0])
    viewer = client_as(Role.VIEWER)
    for _ in range(50):
        assert viewer.post("/api/deployments", json=deployment()).status_code == 403
    assert len(store.read_stream("access-viewer")) == 3
    now[0] += 61  # a minute later, the next refusal is recorded with the count of the rest
    assert viewer.post("/api/incidents", json={}).status_code == 403
    recorded = store.read_stream("access-viewer")
    assert len(recorded) == 4
    assert recorded[-1].data.suppressed == 47  # type: ignore[attr-defined]
    assert recorded[-1].data.action == "POST /api/incidents"  # type: ignore[attr-defined]


def test_the_limit_holds_for_everyone_together_too() -> None:
    now = [0.0]
    limiter = RefusalLimiter(2, clock=lambda: now[0])
    admitted = [limiter.admit(f"anonymous@10.0.0.{n}") for n in range(100)]
    assert sum(a is not None for a in admitted) == limiter.overall == 20


# --- forges' webhooks: proven by the forge's signature, not by a token -------------------


def test_a_signed_webhook_needs_no_token_and_a_token_does_not_stand_in_for_the_signature(
    client: TestClient, client_as: Callable[..., TestClient], store: EventStore
) -> None:
    html = "https://forge.example/acme/web"
    made = client.post("/api/repositories", json={"url": f"{html}.git", "forge": "github"})
    assert made.status_code == 201, made.text
    secret = made.json()["webhook_secret"]
    push = github_push(html, "acme/web", "refs/heads/main", "0" * 40, "a" * 40, [commit("a" * 40)])
    body, headers = signed_github(secret, "push", push)
    anyone = client_as()
    accepted = anyone.post("/hooks/github", content=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    forged = headers | {"X-Hub-Signature-256": "sha256=" + "0" * 64}
    refused = client.post("/hooks/github", content=body, headers=forged)  # an admin's token
    assert refused.status_code == 401, refused.text
    assert "Bearer" not in refused.headers.get("WWW-Authenticate", "")
    assert store.read_stream("access-admin") == store.read_stream("access-anonymous@testclient")
