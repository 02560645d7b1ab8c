"""Fixtures: a real PostgreSQL server and a fresh, migrated database for every test.

The server is the one SHIPLOG_TEST_DATABASE_URL names (an admin URL: it must be
allowed to create databases), or else shiplog's embedded server kept under
.test-home/ in the checkout. Each session migrates one template database once;
each test gets a copy of it (CREATE DATABASE ... TEMPLATE), which costs tens of
milliseconds instead of a migration run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg import sql
from typer.testing import CliRunner

from app.config import Settings, get_settings
from app.database import Database, embedded_pid, start_embedded, stop_embedded
from app.resources import migrations_dir
from app.server import create_app
from app.services.access import Role
from events.migrations import migrate
from events.store import EventStore
from tests.paths import PROJECT_ROOT
from tests.support.access import bearer, set_test_app_password
from tests.support.databases import copied_database
from tests.support.servers import docker_missing, with_dbname

# The fixtures of real pipeline runs (`runners`, `runner_processes`, `leftover_guard`), of
# delivery (`swarm`, `namespace`, `osv_advisories`), the real browser of the web tests
# (`browser`) and the ledger the demo leaves (`demo_database`).
pytest_plugins = (
    "tests.support.runs",
    "tests.support.delivery",
    "tests.support.browser",
    "tests.support.demo",
)

# One template per test session, so two suites on one server never drop each other's.
TEMPLATE = f"shiplog_test_template_{os.getpid()}"
TEST_HOME = PROJECT_ROOT / ".test-home"


@pytest.fixture(scope="session")
def admin_url() -> Iterator[str]:
    """Admin URL of the PostgreSQL server the tests use.

    The embedded server is stopped at the end of the session if the session started it.
    """
    url = os.environ.get("SHIPLOG_TEST_DATABASE_URL")
    if url:
        yield url
        return
    started = embedded_pid(TEST_HOME) is None
    yield start_embedded(TEST_HOME)
    if started:
        stop_embedded(TEST_HOME)


@pytest.fixture(scope="session")
def template_database(admin_url: str) -> Iterator[str]:
    """A freshly migrated template database for this session, dropped at its end."""
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    migrate(with_dbname(admin_url, TEMPLATE), migrations_dir())
    set_test_app_password(admin_url)
    yield TEMPLATE
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(drop)


@pytest.fixture
def database(admin_url: str, template_database: str) -> Iterator[Database]:
    """A new database copied from the migrated template, dropped after the test."""
    with copied_database(admin_url, template_database) as copy:
        yield copy


@pytest.fixture
def store(database: Database) -> Iterator[EventStore]:
    """An event store connected as the application role."""
    with EventStore(database.app_url) as event_store:
        yield event_store


# TestClient sends `Host: testserver`; the server answers only the host names it is told.
# Settings made by any test (not only through the fixture below) read this from the
# environment, so every test application answers TestClient.
TEST_HOSTS = ("localhost", "127.0.0.1", "[::1]", "testserver")
os.environ.setdefault("SHIPLOG_ALLOWED_HOSTS", ",".join(TEST_HOSTS))


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    """Settings pointing at the test database (as shiplog_app), with a private home directory."""
    return Settings(
        home=tmp_path / "home",
        database_url=database.app_url,
        owner_database_url=database.owner_url,
        allowed_hosts=TEST_HOSTS,
    )


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A CLI runner whose `shiplog` works on the test database and a private home."""
    monkeypatch.setenv("SHIPLOG_HOME", str(settings.home))
    monkeypatch.setenv("SHIPLOG_DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("SHIPLOG_OWNER_DATABASE_URL", settings.owner_database_url or "")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.fixture
def web_app(settings: Settings) -> FastAPI:
    """The application under test, created over the test database."""
    return create_app(settings)


@pytest.fixture
def client(web_app: FastAPI, store: EventStore) -> Iterator[TestClient]:
    """A client of create_app(settings), its lifespan running, signed in as an admin token.

    The token is named `admin`: writes through this client record the actor `admin`.
    For another role, or nobody, take `client_as`.
    """
    with TestClient(web_app) as test_client:
        test_client.headers.update(bearer(store, "admin", Role.ADMIN))
        yield test_client


@pytest.fixture
def client_as(web_app: FastAPI, client: TestClient, store: EventStore) -> Callable[..., TestClient]:
    """Make clients of the same running application holding a token of the given roles.

    `client_as(Role.DEPLOYER)` acts as a token named `deployer`; `client_as(Role.VIEWER,
    Role.OPERATOR, name="ops")` names it; `client_as()` sends no credential at all.
    """

    def make(*roles: Role, name: str | None = None) -> TestClient:
        other = TestClient(web_app)  # shares the lifespan `client` started
        if roles or name:
            other.headers.update(bearer(store, name or "-".join(roles), *roles))
        return other

    return make


# --- Docker: a real engine, a local busybox base image, a loopback registry ---------------
#
# Tests that need Docker take one of these fixtures (by argument name, as usual). Where no
# engine answers, they are skipped with the reason, except when SHIPLOG_REQUIRE_DOCKER=1:
# then they fail, so CI cannot pass by skipping them. Start an engine with
# scripts/ensure-docker.

DOCKER_TEST_LABEL = "io.shiplog.test"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A connected ``docker.DockerClient`` (DOCKER_HOST or the default socket).

    Request it in any test that talks to the Docker engine::

        def test_step_runs(docker_client, busybox_image, run_label): ...

    No engine: skip, or fail when SHIPLOG_REQUIRE_DOCKER=1 (run scripts/ensure-docker).
    """
    from app.engine import EngineUnavailable, connect

    try:
        client = connect()
    except EngineUnavailable as exc:
        reason = str(exc)
    else:
        yield client
        client.close()
        return
    docker_missing(reason)  # outside the except block: no chained traceback


@pytest.fixture(scope="session")
def busybox_image(docker_client: Any) -> str:
    """Id of the local base image ``shiplog/busybox:1`` (scratch + static busybox).

    Has ``sh``, ``echo``, ``cat``, ``sha256sum`` and every other busybox applet in /bin.
    Same skip/fail rule as ``docker_client`` when /bin/busybox (busybox-static) is missing.
    """
    from app.engine import BaseImageError, ensure_busybox_image

    try:
        return ensure_busybox_image(docker_client)
    except BaseImageError as exc:
        reason = str(exc)
    docker_missing(reason)


@pytest.fixture(scope="session")
def registry(docker_client: Any) -> Iterator[Any]:
    """A ``LocalRegistry`` on 127.0.0.1 for the whole session (push to ``registry.address``).

    Same skip/fail rule as ``docker_client`` when Debian's docker-registry is missing.
    """
    from app.engine import LocalRegistry, RegistryError

    try:
        local = LocalRegistry().start()
    except RegistryError as exc:
        reason = str(exc)
    else:
        yield local
        local.stop()
        return
    docker_missing(reason)


@pytest.fixture
def run_label(docker_client: Any) -> Iterator[dict[str, str]]:
    """Labels to put on every container a test creates; they are force-removed after it.

    ``docker_client.containers.run(image, cmd, labels=run_label, detach=True)``
    """
    labels = {DOCKER_TEST_LABEL: uuid.uuid4().hex}
    yield labels
    selector = f"{DOCKER_TEST_LABEL}={labels[DOCKER_TEST_LABEL]}"
    for container in docker_client.containers.list(all=True, filters={"label": selector}):
        container.remove(force=True)


# Fixtures that bring up a Docker engine, a registry, a swarm or Chromium. A test that
# uses any of them (directly or through another fixture) is marked `engine`. CI runs the
# whole suite on the embedded PostgreSQL, then the server-dependent directories again on
# Debian's PostgreSQL 15 without these (.ci/run): what they add is the engine's and the
# browser's behaviour, which does not change with the database server.
ENGINE_FIXTURES = frozenset({"docker_client", "busybox_image", "registry", "swarm", "browser"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need a Docker engine or a browser as `engine`."""
    for item in items:
        if ENGINE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.engine)
