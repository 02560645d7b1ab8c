"""Delivery's end-to-end pieces: a one-node swarm, a real app built by real runs, environments.

Everything is real: the swarm is the shared engine in swarm mode (`docker swarm init
--advertise-addr 127.0.0.1`, left on for others), the images are built, tested,
pushed to the session's loopback registry, scanned and signed by `shiplog run`, and
the environments file is written where the settings look for it. Each test's
services live under a namespace of its own and are removed after it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app
from app.cli.demo import traffic as demo_traffic
from app.config import Settings, get_settings
from app.database import Database
from app.delivery.desk import Desk
from app.delivery.swarm import SECRET_OF_LABEL
from app.deps import request_principal
from app.services.access import Principal, Role
from app.services.delivery import open_desk, swarm_pool
from events.store import EventStore
from events.vocabulary import ImagePushed
from tests.support.runs import make_repo, of_type, run_events, run_id_in
from tests.support.servers import docker_missing
from tests.support.supplychain_samples import advisories_v1, debian_files, write_advisories

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy from the env

SERVE = """\
#!/bin/sh
# The delivered app: busybox httpd on 8080, unless its mode says to misbehave. It ends at
# once on SIGTERM: as PID 1 without a handler, it would wait out Swarm's 10 s grace period
# at every task stopped (a rolling update's old task, every teardown).
trap 'exit 0' TERM
mode=$(cat /etc/mode)
case "$mode" in
    broken) sleep 100000 & wait; exit ;;  # never listens, so its health check fails
    errors)  # without index.html, httpd answers / with cgi-bin/index.cgi: a 500, always
        rm /www/index.html
        mkdir -p /www/cgi-bin && cp /usr/local/lib/fail.cgi /www/cgi-bin/index.cgi ;;
esac
httpd -f -p 8080 -h /www &
wait
"""
FAIL_CGI = """\
#!/bin/sh
printf 'Status: 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\nbroken\\n'
"""
APP_TEST = """\
#!/bin/sh
# The app's tests: it has a version (mode `fails-tests` fails it); a JUnit report.
out=$1
mkdir -p "$(dirname "$out")"
head='<testsuite name="app" tests="1"><testcase classname="app" name="has_a_version"'
if [ "$(cat /etc/mode)" = "fails-tests" ]; then
    echo "$head><failure/></testcase></testsuite>" > "$out"
else
    echo "$head/></testsuite>" > "$out"
fi
"""
DOCKERFILE = """\
FROM shiplog/busybox:1
ARG VERSION=dev
ARG MODE=good
COPY serve.sh /usr/local/bin/serve
COPY app-test.sh /usr/local/bin/app-test
COPY fail.cgi /usr/local/lib/fail.cgi
RUN chmod +x /usr/local/bin/serve /usr/local/bin/app-test /usr/local/lib/fail.cgi \\
 && mkdir -p /www && echo "version $VERSION" > /www/index.html && echo "$MODE" > /etc/mode \\
 && echo ok > /www/healthz
CMD ["/usr/local/bin/serve"]
"""
VULNERABLE_DOCKERFILE = DOCKERFILE + "COPY root/ /\n"

HEALTH = {
    "command": ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
    "interval": "1s",
    "timeout": "1s",
    "retries": 2,
}
FAST_ROLLING = {"parallelism": 1, "delay": 0, "monitor": "2s", "timeout": "90s"}


@pytest.fixture(scope="session")
def swarm(docker_client: Any) -> Any:
    """The shared engine as a one-node swarm manager (initialised if it is not one yet)."""
    state = docker_client.info().get("Swarm", {})
    if state.get("LocalNodeState") != "active":
        try:
            docker_client.swarm.init(advertise_addr="127.0.0.1")
        except docker.errors.APIError as error:
            if "already part of a swarm" not in str(error):
                docker_missing(f"cannot make the engine a swarm manager: {error}")
    if not docker_client.info().get("Swarm", {}).get("ControlAvailable"):
        docker_missing("the engine is in a swarm but not a manager of it")
    return docker_client


@dataclass(frozen=True)
class Images:
    """The digests one delivery run pushed, by role (`v1`, `v2`, `broken`, `errors`, ...)."""

    run_id: str
    repository: str
    digests: Mapping[str, str]

    def __getitem__(self, role: str) -> str:
        return self.digests[role]


def app_files(pipeline: str, *, vulnerable: bool = False) -> dict[str, str | bytes]:
    """The delivered app's repository: Dockerfile, scripts and `pipeline`."""
    files: dict[str, str | bytes] = {
        "Dockerfile": VULNERABLE_DOCKERFILE if vulnerable else DOCKERFILE,
        "serve.sh": SERVE,
        "fail.cgi": FAIL_CGI,
        "app-test.sh": APP_TEST,
        ".shiplog.yml": pipeline,
    }
    if vulnerable:
        files.update({f"root/{k}": v for k, v in debian_files().items()})
    return files


def app_pipeline(
    repository: str, tag: str, roles: Mapping[str, str], *, tests: bool = True, scan: bool = True
) -> str:
    """Build one image per role (role -> MODE), test each, push each, scan each."""
    steps = []
    for role, mode in roles.items():
        steps.append(
            f"  - name: build-{role}\n    build:\n      args: {{VERSION: {role}, MODE: {mode}}}\n"
            f'      tags: ["{tag}:{role}"]\n    depends_on: []\n'
        )
        after = f"build-{role}"
        if tests:
            steps.append(
                f"  - name: test-{role}\n    image: {tag}:{role}\n"
                f"    commands: [app-test /workspace/reports/{role}.xml]\n"
                f'    reports: ["reports/{role}.xml"]\n    depends_on: [{after}]\n'
            )
            after = f"test-{role}"
        steps.append(
            f"  - name: push-{role}\n    push:\n      image: {tag}:{role}\n"
            f"      repository: {repository}\n      tags: [{role}]\n    depends_on: [{after}]\n"
        )
        if scan:
            steps.append(
                f"  - name: scan-{role}\n    scan:\n      image: build-{role}\n"
                f"    depends_on: [push-{role}]\n"
            )
    return "name: delivered\nsteps:\n" + "".join(steps)


def build_app(
    cli: CliRunner,
    store: EventStore,
    root: Path,
    registry: Any,
    roles: Mapping[str, str],
    *,
    tests: bool = True,
    scan: bool = True,
    vulnerable: bool = False,
    home: Path | None = None,
) -> Images:
    """Run the app's pipeline for real (`shiplog run`) and answer the digests it pushed."""
    name = f"shiplog-test/deliv-{uuid.uuid4().hex[:10]}"
    repository = f"{registry.address}/{name}"
    pipeline = app_pipeline(repository, name, roles, tests=tests, scan=scan)
    repo = make_repo(root, app_files(pipeline, vulnerable=vulnerable))
    env = {"SHIPLOG_HOME": str(home)} if home is not None else None
    get_settings.cache_clear()
    result = cli.invoke(app, ["run", str(repo)], env=env)
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    run_id = run_id_in(result.output)
    pushed = of_type(run_events(store, run_id), ImagePushed)
    return Images(run_id, repository, {p.tag: p.digest for p in pushed})


@pytest.fixture
def osv_advisories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Advisories for scan steps (SHIPLOG_OSV_DIR): criticals for the vulnerable image."""
    directory = write_advisories(tmp_path / "osv", advisories_v1())
    monkeypatch.setenv("SHIPLOG_OSV_DIR", str(directory))
    get_settings.cache_clear()
    return directory


@pytest.fixture
def namespace(swarm: Any) -> Iterator[str]:
    """A prefix for this test's swarm services; they (and their secrets) are removed after it."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    yield prefix
    remove_services(swarm, prefix)


@pytest.fixture
def demo_services(swarm: Any) -> Iterator[None]:
    """The demo leaves its services on the swarm for a newcomer; a test removes them."""
    yield
    remove_services(swarm, "shiplog-demo-")


def remove_services(client: Any, prefix: str) -> None:
    """Remove every swarm service named `<prefix>…`, wait for its tasks to go, then the
    secrets and configs shiplog made for them and the networks named `<prefix>…`."""
    for service in client.services.list(filters={"name": prefix}):
        if service.name.startswith(prefix):
            with contextlib.suppress(docker.errors.NotFound):
                service.remove()
    for _ in range(120):
        # The low-level list: the high-level one inspects each container, racing removals.
        tasks = client.api.containers(all=True, filters={"label": "com.docker.swarm.service.name"})
        if not any(c["Labels"]["com.docker.swarm.service.name"].startswith(prefix) for c in tasks):
            break
        time.sleep(0.5)
    for secret in [*client.secrets.list(), *client.configs.list()]:
        owner = (secret.attrs.get("Spec", {}).get("Labels") or {}).get(SECRET_OF_LABEL, "")
        if owner.startswith(prefix):
            for _ in range(60):
                try:
                    secret.remove()
                    break
                except docker.errors.NotFound:
                    break
                except docker.errors.APIError:
                    time.sleep(0.5)
    for network in client.networks.list(filters={"name": prefix}):
        if network.name.startswith(prefix):
            for _ in range(60):
                try:
                    network.remove()
                    break
                except docker.errors.NotFound:
                    break
                except docker.errors.APIError:
                    time.sleep(0.5)


def environments(namespace: str, **production: Any) -> dict[str, Any]:
    """Staging then production, both with service `web`; `production` adds its rules."""
    web = {"replicas": 1, "health": HEALTH, "rolling": FAST_ROLLING}
    return {
        "groups": {"release": ["carol", "dave"]},
        "environments": [
            {
                "name": "staging",
                "target": {"namespace": f"{namespace}-stg"},
                "services": {"web": web},
            },
            {
                "name": "production",
                "target": {"namespace": f"{namespace}-prd"},
                "requires": ["staging"],
                "services": {"web": web},
                **production,
            },
        ],
    }


def write_environments(settings: Settings, config: Mapping[str, Any]) -> Path:
    """Write the environments file where `settings` (and the CLI on its home) read it."""
    path = settings.environments_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    return path


def swarm_image(client: Any, name: str) -> str:
    """The image a swarm service's spec names now."""
    service = client.services.get(name)
    return str(service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"])


@pytest.fixture
def desks(
    settings: Settings, store: EventStore, database: Database, swarm: Any
) -> Iterator[Callable[[], Desk]]:
    """Makes desks as the server does (the environments file read when each is made)."""
    swarms = swarm_pool()
    yield lambda: open_desk(settings, store, swarms, database.app_url)
    swarms.close()


def as_principal(client: TestClient, actor: str, *roles: Role) -> None:
    """Make every request of `client` come from `actor` holding `roles` (the access seam)."""
    principal = Principal(actor=actor, roles=frozenset(roles), credential="test")
    client.app.dependency_overrides[request_principal] = lambda: principal  # type: ignore[attr-defined]


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now, on the loopback."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def proxied(namespace: str, strategy: str, **extra: Any) -> tuple[dict[str, Any], int, int]:
    """Staging with a proxied `web`; the public and preview ports."""
    public, admin, metrics, preview = free_ports(4)
    web = {
        "replicas": 1,
        "ports": [{"published": public, "target": 8080}],
        "proxy": {"admin_port": admin, "metrics_port": metrics, "preview_port": preview},
        "health": {
            "command": ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"],
            "interval": "1s",
            "timeout": "1s",
            "retries": 2,
        },
        "rolling": FAST_ROLLING,
        "strategy": strategy,
        **extra,
    }
    config = environments(namespace)
    config["environments"][0]["services"]["web"] = web
    return config, public, preview


def get(port: int, path: str = "/") -> str:
    """What the node answers on `port` (the status for an error)."""
    try:
        with _opener.open(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.read().decode().strip()
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"


def traffic(port: int) -> contextlib.AbstractContextManager[None]:
    """Requests to `port` every few milliseconds while the block runs (a canary needs traffic)."""
    return demo_traffic(f"http://127.0.0.1:{port}/")


def env_events(store: EventStore) -> list[Any]:
    """Staging's events' payloads."""
    return [e.data for e in store.read_stream("env-staging")]
