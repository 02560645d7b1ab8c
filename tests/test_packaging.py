"""The built wheel works on its own: installed into a fresh venv and run outside the checkout.

The wheel is built from a copy of the checkout, as a clean clone builds it, and installed
with --no-deps into a new venv that borrows this venv's dependencies through a .pth file
(so nothing is downloaded but the build backend). Every command runs from a temporary
directory with no SHIPLOG_* settings but a home and a database: `shiplog migrate` applies
the shipped migrations to an empty database, `shiplog serve` renders a page from the shipped
templates and serves the shipped static files, and `shiplog demo` runs the shipped example.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from app.database import login_as
from tests.paths import PROJECT_ROOT
from tests.support.access import TEST_APP_PASSWORD
from tests.support.databases import copied_database
from tests.support.web_server import free_port

# What a clean clone does not have: local state, caches and earlier builds.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".test-home",
    ".bench-home",
    "test-artifacts",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
)


@dataclass(frozen=True)
class Installed:
    """A venv holding shiplog from the wheel, and an empty directory to run it from."""

    venv: Path
    workdir: Path

    @property
    def shiplog(self) -> Path:
        """The venv's `shiplog` console script."""
        return self.venv / "bin" / "shiplog"

    def environment(self, home: Path, owner_url: str) -> dict[str, str]:
        """This process's environment without shiplog or Python path settings, plus shiplog's.

        The database as a user sets it up: the application role's URL, and the owner's
        for `shiplog migrate` only.
        """
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("SHIPLOG_")
            and name not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
        }
        app_url = login_as(owner_url, "shiplog_app", TEST_APP_PASSWORD)
        return inherited | {
            "SHIPLOG_HOME": str(home),
            "SHIPLOG_DATABASE_URL": app_url,
            "SHIPLOG_OWNER_DATABASE_URL": owner_url,
        }

    def run(self, *args: str, env: dict[str, str], timeout: float = 120) -> str:
        """Run `shiplog args` from the work directory; its output, or a failure showing it."""
        done = subprocess.run(
            [str(self.shiplog), *args],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"shiplog {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout


def run_checked(command: list[str], cwd: Path) -> None:
    """Run a build step; fail with its output if it fails."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """shiplog built as a wheel and installed into a fresh venv outside the checkout."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(PROJECT_ROOT, source, symlinks=True, ignore=NOT_IN_A_CLONE)
    wheels = root / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run_checked([*pip, "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), "."], source)
    (wheel,) = wheels.glob("shiplog-*.whl")

    venv = root / "venv"
    run_checked([sys.executable, "-m", "venv", "--without-pip", str(venv)], root)
    dependencies = Path(sysconfig.get_path("purelib"))
    site_packages = venv / dependencies.relative_to(sys.prefix)
    # Only the dependencies come from this venv: its editable shiplog is a .pth file and
    # an import hook, which Python reads in site directories, not on a borrowed path.
    (site_packages / "borrowed-dependencies.pth").write_text(f"{dependencies}\n")
    run_checked(
        [*pip, "--python", str(venv / "bin" / "python"), "install", "--quiet", "--no-deps",
         "--no-index", "--ignore-installed", str(wheel)],
        root,
    )  # fmt: skip
    workdir = root / "elsewhere"
    workdir.mkdir()
    return Installed(venv=venv, workdir=workdir)


@pytest.fixture
def empty_database(admin_url: str, template_database: str) -> Iterator[str]:
    """The owner URL of a new database without a schema, dropped after the test.

    (After the template: the cluster's shiplog_app role then exists, with its test password.)
    """
    # template1 is what a bare CREATE DATABASE copies: no schema.
    with copied_database(admin_url, "template1", prefix="shiplog_wheel") as empty:
        yield empty.owner_url or ""


def test_the_installed_wheel_imports_its_own_code_not_the_checkout(installed: Installed) -> None:
    where = subprocess.check_output(
        [installed.venv / "bin" / "python", "-c", "import app, events; print(app.__file__); "
         "print(events.__file__)"],
        cwd=installed.workdir,
        text=True,
    )  # fmt: skip
    for path in where.split():
        assert Path(path).is_relative_to(installed.venv), path


def test_migrate_then_serve_pages_and_static_files_from_the_wheel(
    installed: Installed, empty_database: str, tmp_path: Path
) -> None:
    env = installed.environment(tmp_path / "home", empty_database)
    shipped = sorted(path.name for path in (PROJECT_ROOT / "migrations").glob("*.sql"))

    output = installed.run("migrate", env=env)

    assert [line.removeprefix("applied ") for line in output.splitlines()[:-1]] == shipped
    assert f"schema up to date ({len(shipped)} applied now)" in output

    secret = installed.run("token", "create", "viewer", "--role", "viewer", env=env)
    port = free_port()
    server = subprocess.Popen(
        [str(installed.shiplog), "serve", "--port", str(port)],
        cwd=installed.workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = wait_until_serving(server, f"http://127.0.0.1:{port}")
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.json() == {"status": "ready"}  # no migration the wheel ships is pending
        viewer = {"Authorization": f"Bearer {secret.strip()}"}
        page = httpx.get(f"{base}/", headers=viewer, timeout=10)
        assert page.status_code == 200
        assert '<link rel="stylesheet" href="/static/shiplog.css">' in page.text
        assert "Timeline · shiplog</title>" in page.text
        css = httpx.get(f"{base}/static/shiplog.css", timeout=10)
        assert css.status_code == 200
        assert css.content == (PROJECT_ROOT / "app" / "web" / "static" / "shiplog.css").read_bytes()
    finally:
        stop(server)


def test_demo_runs_the_example_shipped_in_the_wheel(
    installed: Installed,
    empty_database: str,
    tmp_path: Path,
    docker_client: Any,
    busybox_image: str,
    demo_services: None,
) -> None:
    env = installed.environment(tmp_path / "home", empty_database)
    installed.run("migrate", env=env)  # a server of your own is migrated by its owner, first

    output = installed.run("demo", env=env)

    # The example, its environments file and the proxy's image all come from the wheel.
    assert "the registry holds hello:1.1.0 as sha256:" in output
    assert "canary promoted after 3 steps" in output
    assert re.search(r"ledger verified: \d+ events", output), output


def wait_until_serving(server: subprocess.Popen[str], base: str) -> str:
    """`base` once the server answers /healthz; fails with its output if it exits first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stdout.read() if server.stdout else ""
            pytest.fail(f"shiplog serve exited with {server.returncode}:\n{output}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail("shiplog serve did not answer /healthz within 60 s")


def stop(server: subprocess.Popen[str]) -> None:
    """Stop the server as Ctrl-C does; kill it if it lingers."""
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
