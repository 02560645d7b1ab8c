"""Shared pieces of the executor's end-to-end tests: sample repositories, runners, the ledger.

Everything here is real: git repositories made with `git`, runs queued through the
`shiplog` CLI, runners in this process or as `shiplog runner` subprocesses, containers
on the Docker engine and events in a fresh PostgreSQL database per test.

Its fixtures (`runners`, `runner_processes`, `leftover_guard`) reach every test through
`pytest_plugins` in tests/conftest.py. A module whose tests run pipelines marks itself
`pytestmark = pytest.mark.usefixtures("leftover_guard")`, so each of its tests proves
that its runs left no container, network or volume behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import docker.errors
import psycopg
import pytest
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.database import Database
from app.engine import connect
from app.executor.actions.containers import remove_network
from app.executor.actions.networks import POOL_LABEL, RUNNER_LABEL
from app.executor.actions.support import SWARM_TASK_LABEL
from app.executor.runner import Runner
from app.queries.logs import log_digest
from app.resources import example_dir
from events.catalogue import Event
from events.store import EventStore, RecordedEvent
from events.vocabulary import StepFinished

E = TypeVar("E", bound=Event)

RUN_LABEL = "dev.shiplog.run"
BUSYBOX = "shiplog/busybox:1"
EXAMPLE = example_dir("hello")
SHIPLOG = Path(sys.executable).parent / "shiplog"
GIT_IDENTITY = ("-c", "user.name=t", "-c", "user.email=t@example.com")
SHA256 = re.compile(r"sha256:[0-9a-f]{64}")


# --- waiting --------------------------------------------------------------------------------


def wait_until(
    condition: Callable[[], object], *, timeout: float, what: str, interval: float = 0.1
) -> float:
    """Poll `condition` until it is true; return the seconds it took, or fail naming `what`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"after {timeout} s still waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - started


# --- sample repositories --------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with a fixed identity and no user or system configuration."""
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "LC_ALL": "C",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *GIT_IDENTITY, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
    return done.stdout.strip()


def make_repo(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """A git repository at `root` (branch main) with `files` committed; returns `root`."""
    root.mkdir(parents=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "sample")
    return root


def commands_pipeline(*steps: str, name: str = "sample", header: str = "") -> str:
    """A pipeline file with `header` (e.g. services) and the given step blocks, in order."""
    body = "".join(steps)
    return f"name: {name}\n{header}steps:\n{body}"


def hello_pipeline(tag: str, push_repository: str, push_tags: tuple[str, ...]) -> str:
    """The pipeline of examples/hello, building `tag` and pushing it to `push_repository`."""
    tags = ", ".join(f'"{t}"' for t in push_tags)
    return f"""\
# build, test in the image just built, push
name: hello
steps:
  - name: build
    build:
      context: .
      args:
        VERSION: "1.0.0"
      tags: ["{tag}"]
      labels:
        org.opencontainers.image.description: "A greeting, delivered"

  - name: test
    image: {tag}
    commands:
      - hello-test /workspace/reports/junit.xml
    reports: ["reports/*.xml"]

  - name: push
    push:
      image: {tag}
      repository: {push_repository}
      tags: [{tags}]
"""


def example_files() -> dict[str, str | bytes]:
    """The files of examples/hello its Dockerfile needs: all but its pipeline."""
    return {
        path.name: path.read_bytes()
        for path in sorted(EXAMPLE.iterdir())
        if path.is_file() and path.name != ".shiplog.yml"
    }


def hello_app(root: Path, pipeline: str) -> Path:
    """A repository holding examples/hello (Dockerfile, app, tests) and `pipeline`."""
    files = example_files()
    files[".shiplog.yml"] = pipeline
    return make_repo(root, files)


def unique_name(prefix: str = "shiplog-test/app") -> str:
    """An image repository name no other test (or test run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --- the ledger -----------------------------------------------------------------------------


def run_events(store: EventStore, run_id: str) -> list[RecordedEvent]:
    """The events of a run, in stream order."""
    return store.read_stream(f"run-{run_id}")


def type_names(events: list[RecordedEvent]) -> list[str]:
    """The type names of `events`, in order."""
    return [event.type_name for event in events]


def of_type(events: list[RecordedEvent], kind: type[E]) -> list[E]:
    """The payloads of the events of type `kind`, in order."""
    return [event.data for event in events if isinstance(event.data, kind)]


def one(events: list[RecordedEvent], kind: type[E], **fields: object) -> E:
    """The only event of type `kind` whose fields have the given values."""
    found = [
        event
        for event in of_type(events, kind)
        if all(getattr(event, key) == value for key, value in fields.items())
    ]
    assert len(found) == 1, f"expected one {kind.__name__} with {fields}, found {found}"
    return found[0]


def index_of(events: list[RecordedEvent], kind: type[Event], **fields: object) -> int:
    """The stream position of the only event of type `kind` with the given field values."""
    matches = [
        i
        for i, event in enumerate(events)
        if isinstance(event.data, kind)
        and all(getattr(event.data, key) == value for key, value in fields.items())
    ]
    assert len(matches) == 1, f"expected one {kind.__name__} with {fields}, found {len(matches)}"
    return matches[0]


def count_events(database: Database) -> int:
    """How many events the ledger holds, counted as the owner (no snapshot rule applies)."""
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def _distinct(database: Database, query: str) -> list[str]:
    with psycopg.connect(database.owner_url) as conn:
        return [row[0] for row in conn.execute(query).fetchall()]


def all_run_ids(database: Database) -> list[str]:
    """Every run the ledger knows of."""
    return _distinct(
        database, "SELECT DISTINCT substr(stream, 5) FROM events WHERE stream LIKE 'run-%'"
    )


def all_runner_names(database: Database) -> list[str]:
    """Every runner that claimed a run of the ledger."""
    return _distinct(
        database, "SELECT DISTINCT data->>'runner' FROM events WHERE type = 'RunClaimed'"
    )


def ledger_text(database: Database) -> str:
    """Every event's data and metadata and every stored log line, as text, for searching."""
    with psycopg.connect(database.owner_url) as conn:
        events = conn.execute("SELECT data::text, metadata::text FROM events").fetchall()
        logs = conn.execute("SELECT line FROM step_logs").fetchall()
    return "\n".join([*(f"{d}\n{m}" for d, m in events), *(line for (line,) in logs)])


def logged_lines(database: Database, run_id: str, step: str) -> list[str]:
    """The lines stored so far for one step of a run, in order."""
    with psycopg.connect(database.owner_url) as conn:
        rows = conn.execute(
            "SELECT line FROM step_logs WHERE run_id = %s AND step = %s ORDER BY line_no",
            (run_id, step),
        ).fetchall()
    return [line for (line,) in rows]


def leases(database: Database) -> list[tuple[str, str]]:
    """(run id, runner) of every heartbeat row."""
    with psycopg.connect(database.owner_url) as conn:
        rows = conn.execute("SELECT run_id::text, runner FROM run_leases").fetchall()
    return [(run_id, runner) for run_id, runner in rows]


# --- the engine -----------------------------------------------------------------------------


def leftovers(client: Any, run_id: str) -> list[str]:
    """Containers (running or not), networks and volumes still labelled with the run."""
    selector = {"label": f"{RUN_LABEL}={run_id}"}
    containers = client.containers.list(all=True, filters=selector)
    # Tasks of a swarm service made from a run's image carry its label; they are not the run's.
    found = [f"container {c.name}" for c in containers if SWARM_TASK_LABEL not in c.labels]
    found += [f"network {n.name}" for n in client.networks.list(filters=selector)]
    found += [f"volume {v.name}" for v in client.volumes.list(filters=selector)]
    return found


def pool_networks(client: Any, runner: str) -> list[Any]:
    """The networks a runner lends to its runs (none once it has stopped)."""
    return list(client.networks.list(filters={"label": [f"{RUNNER_LABEL}={runner}", POOL_LABEL]}))


def running_containers(client: Any, run_id: str) -> list[Any]:
    """The run's containers that are running now."""
    selector = {"label": f"{RUN_LABEL}={run_id}", "status": "running"}
    return list(client.containers.list(filters=selector))


def step_running(client: Any, run_id: str, step: str) -> bool:
    """Whether the container of `step` of the run is running."""
    selector = {"label": [f"{RUN_LABEL}={run_id}", f"dev.shiplog.step={step}"], "status": "running"}
    return bool(client.containers.list(filters=selector))


def remove_everything_of(client: Any, run_id: str) -> None:
    """Force-remove whatever the run left on the engine, images it built included."""
    selector = {"label": f"{RUN_LABEL}={run_id}"}
    for container in client.containers.list(all=True, filters=selector):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
    for network in client.networks.list(filters=selector):
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()
    for volume in client.volumes.list(filters=selector):
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)
    for image in client.images.list(filters=selector):
        with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
            client.images.remove(image.id, force=True)


@pytest.fixture(name="leftover_guard")
def leftover_guard_fixture(database: Database, docker_client: Any) -> Iterator[None]:
    """After the test: no run of its ledger left anything on the engine; then clean up anyway.

    Images the runs built (labelled with their run id) are removed too: they are expected
    to stay after a run, but not after a test.
    """
    yield
    left = {run_id: leftovers(docker_client, run_id) for run_id in all_run_ids(database)}
    for run_id in left:
        remove_everything_of(docker_client, run_id)
    # The runners have stopped by now, so a network one of them lent is left over too.
    for runner in all_runner_names(database):
        networks = pool_networks(docker_client, runner)
        left[f"runner {runner}"] = [f"network {n.name}" for n in networks]
        for network in networks:
            with contextlib.suppress(docker.errors.APIError):
                remove_network(network)
    left = {run_id: found for run_id, found in left.items() if found}
    assert not left, f"runs left objects on the engine: {left}"


# --- running shiplog ------------------------------------------------------------------------


def fast_settings(home: Path, database: Database, **changes: Any) -> Settings:
    """Settings with a private home and heartbeats short enough for tests."""
    values: dict[str, Any] = {
        "home": home,
        "database_url": database.app_url,
        "owner_database_url": database.owner_url,
        "heartbeat_interval": 0.3,
        "heartbeat_timeout": 3.0,
        "poll_interval": 0.2,
        **changes,
    }
    return Settings(**values)


def queue_detached(cli: CliRunner, repo: Path) -> str:
    """`shiplog run --detach REPO`: queue a run for runners; return its id."""
    result = cli.invoke(app, ["run", "--detach", str(repo)])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return run_id_in(result.output)


def shiplog_run(cli: CliRunner, repo: Path, *options: str) -> tuple[str, str, int]:
    """`shiplog run [options] REPO` in this process: (run id, output, exit code)."""
    result = cli.invoke(app, ["run", *options, str(repo)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return run_id_in(result.output), result.output, result.exit_code


def verify_logs(database: Database, run_id: str, finished: list[StepFinished]) -> None:
    """Every StepFinished's log digest is that of the log stored for its step."""
    for event in finished:
        stored = log_digest(database.app_url, run_id, event.step)
        assert (stored.sha256, stored.lines) == (event.log_sha256, event.log_lines), event.step


def run_id_in(output: str) -> str:
    """The run id `shiplog run` printed."""
    match = re.search(r"queued run ([0-9a-f-]{36})", output)
    assert match, output
    return match.group(1)


@pytest.fixture(name="runners")
def runners_fixture(database: Database) -> Iterator[Callable[[Settings, str], Runner]]:
    """Make in-process runners (each with its own store and engine client), closed after."""
    with contextlib.ExitStack() as stack:

        def make(settings: Settings, name: str) -> Runner:
            store = stack.enter_context(EventStore(database.app_url))
            client = connect()
            stack.callback(client.close)
            return Runner(
                settings=settings, store=store, app_url=database.app_url, client=client, name=name
            )

        yield make


@contextlib.contextmanager
def working(runner: Runner) -> Iterator[threading.Thread]:
    """`runner.run_forever` in a thread for the block; then stop it and wait for its runs."""
    stop = threading.Event()
    thread = threading.Thread(target=runner.run_forever, args=(stop,), name=runner.name)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=120)
        assert not thread.is_alive(), f"runner {runner.name} did not stop"


class RunnerProcess:
    """`shiplog runner` as a subprocess with its own name, output in a file; killed at the end."""

    def __init__(self, name: str, settings: Settings, directory: Path) -> None:
        self.name = name
        self.log_path = directory / f"runner-{name}.log"
        directory.mkdir(parents=True, exist_ok=True)
        env = {key: value for key, value in os.environ.items() if not key.startswith("SHIPLOG_")}
        env.update(
            SHIPLOG_DATABASE_URL=settings.database_url or "",
            SHIPLOG_HOME=str(settings.home),
            SHIPLOG_RUNNER_NAME=name,
            SHIPLOG_HEARTBEAT_INTERVAL=str(settings.heartbeat_interval),
            SHIPLOG_HEARTBEAT_TIMEOUT=str(settings.heartbeat_timeout),
            SHIPLOG_POLL_INTERVAL=str(settings.poll_interval),
            SHIPLOG_RUNNER_CONCURRENCY=str(settings.runner_concurrency),
        )
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(SHIPLOG), "runner"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=directory,  # no stray .env file is read
            )

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the runner says it is working."""

        def ready() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"runner {self.name} exited early:\n{self.output()}")
            return f"runner {self.name} working" in self.output()

        wait_until(ready, timeout=timeout, what=f"runner {self.name} to start")

    def stop(self, timeout: float = 120) -> int:
        """SIGTERM (finish the active runs, then exit); return the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL, and reap the process."""
        os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def close(self) -> None:
        """Stop the process if it still runs (a failed test must not leave it behind).

        SIGTERM first, so the runner removes the networks it lends; SIGKILL if it hangs.
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


@pytest.fixture(name="runner_processes")
def runner_processes_fixture() -> Iterator[Callable[[str, Settings, Path], RunnerProcess]]:
    """Start `shiplog runner` subprocesses; any still alive after the test is killed."""
    started: list[RunnerProcess] = []

    def start(name: str, settings: Settings, directory: Path) -> RunnerProcess:
        process = RunnerProcess(name, settings, directory)
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()
