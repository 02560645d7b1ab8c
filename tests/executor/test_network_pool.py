"""A runner's pooled networks: one run per network at a time, lent again only when clean.

Real runs on a real engine: concurrent runs of one runner are on different networks,
a network comes back into use only with no endpoint left on it, a dirty one is removed
instead, and a stopped runner (or the reaper, for a dead one) leaves none behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from typer.testing import CliRunner

from app.config import Settings
from app.database import Database
from app.executor.actions.networks import NetworkPool, has_endpoints, remove_pool_networks
from app.executor.runner import Runner
from app.executor.runs import RunLedger
from events.store import EventStore
from tests.support.runs import (
    BUSYBOX,
    commands_pipeline,
    fast_settings,
    leftovers,
    make_repo,
    pool_networks,
    queue_detached,
    running_containers,
    wait_until,
    working,
)

pytestmark = pytest.mark.usefixtures("leftover_guard")  # nothing left on the engine


def step(name: str, *commands: str) -> str:
    lines = "".join(f"      - {command}\n" for command in commands)
    return f"  - name: {name}\n    image: {BUSYBOX}\n    commands:\n{lines}"


def networks_of(container: Any) -> set[str]:
    container.reload()
    return set(container.attrs["NetworkSettings"]["Networks"])


def test_a_runner_lends_one_network_to_its_runs_in_turn_and_removes_it_when_it_stops(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    docker_client: Any,
    runners: Any,
    tmp_path: Path,
) -> None:
    settings: Settings = fast_settings(tmp_path / "home", database, runner_concurrency=1)
    repo = make_repo(
        tmp_path / "repo", {".shiplog.yml": commands_pipeline(step("one", "echo one"))}
    )
    runner: Runner = runners(settings, "pooling")
    ledger = RunLedger(store)
    with working(runner):
        first = queue_detached(cli, repo)
        wait_until(lambda: ledger.state(first).finished, timeout=60, what="the first run")
        second = queue_detached(cli, repo)
        wait_until(lambda: ledger.state(second).finished, timeout=60, what="the second run")
        wait_until(lambda: not runner.leased(), timeout=30, what="the runs to be cleaned up")
        (network,) = pool_networks(docker_client, "pooling")  # made once, lent twice
        assert not has_endpoints(network)
        assert leftovers(docker_client, first) == leftovers(docker_client, second) == []
    assert [ledger.state(r).status for r in (first, second)] == ["succeeded", "succeeded"]
    assert pool_networks(docker_client, "pooling") == []


def test_concurrent_runs_of_one_runner_are_on_networks_of_their_own(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    docker_client: Any,
    runners: Any,
    tmp_path: Path,
) -> None:
    settings: Settings = fast_settings(tmp_path / "home", database, runner_concurrency=2)
    pipeline = commands_pipeline(step("wait", "sleep 30"))
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})
    runner: Runner = runners(settings, "isolating")
    ledger = RunLedger(store)
    with working(runner):
        run_ids = [queue_detached(cli, repo) for _ in range(2)]
        wait_until(
            lambda: all(running_containers(docker_client, r) for r in run_ids),
            timeout=60,
            what="both runs' steps to run",
        )
        first, second = (networks_of(running_containers(docker_client, r)[0]) for r in run_ids)
        assert len(first) == len(second) == 1
        assert first != second
        for container in (c for r in run_ids for c in running_containers(docker_client, r)):
            container.kill()  # the steps fail at once; the runs end
        wait_until(
            lambda: all(ledger.state(r).finished for r in run_ids), timeout=60, what="the runs"
        )


@pytest.fixture(name="pool")
def pool_fixture(docker_client: Any) -> Iterator[NetworkPool]:
    """A pool of a runner no test runs; every network it made is gone afterwards."""
    pool = NetworkPool(docker_client, f"test-pool-{uuid.uuid4().hex[:8]}")
    try:
        yield pool
    finally:
        pool.close()
    assert pool_networks(docker_client, pool.runner) == []


def test_a_network_handed_back_with_an_endpoint_on_it_is_removed_not_lent_again(
    pool: NetworkPool, docker_client: Any, busybox_image: str
) -> None:
    name = pool.take("run-a", {})
    container = docker_client.containers.run(
        busybox_image, ["sleep", "30"], network=name, detach=True, labels={}
    )
    try:
        pool.give_back("run-a", name)  # its container is still on it
        with pytest.raises(docker.errors.NotFound):
            docker_client.networks.get(name)
    finally:
        container.remove(force=True)
    assert pool.take("run-b", {}) != name


def test_the_reaper_removes_the_empty_networks_of_a_runner_that_is_gone(
    pool: NetworkPool, docker_client: Any
) -> None:
    lent = pool.take("run-a", {})
    pool.give_back("run-a", lent)
    assert [n.name for n in pool_networks(docker_client, pool.runner)] == [lent]
    assert remove_pool_networks(docker_client, pool.runner) == 1
    assert pool_networks(docker_client, pool.runner) == []


def test_a_pooled_network_removed_while_idle_is_replaced_when_next_lent(
    pool: NetworkPool, docker_client: Any
) -> None:
    first = pool.take("run-a", {})
    pool.give_back("run-a", first)
    remove_pool_networks(docker_client, pool.runner)  # a reaper took the runner for gone
    second = pool.take("run-b", {})
    assert second != first
    assert docker_client.networks.get(second).name == second
