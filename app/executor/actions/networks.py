"""The bridge network a run's containers join: one of its own, or one lent from a runner's pool.

Every run's containers share a user-defined bridge network that no other run's
containers are on at the same time, so concurrent runs cannot reach each other.
`shiplog run` makes a network for its one run (`OwnNetwork`), labelled with the run,
and `cleanup_run` removes it with the run's containers. A long-lived runner lends
networks from a `NetworkPool` instead: one run at a time per network, handed back once
the run's containers are gone and the network has no endpoint left (otherwise it is
removed, never lent again), so the ~0.1 s create and ~0.2 s removal are paid once
per network rather than once per run.

A pool's networks are labelled with the runner (`RUNNER_LABEL`) and the pool
(`POOL_LABEL`), not with a run: a network a run has handed back is not that run's.
They are removed when the runner stops; a reaper removes the empty ones of a runner
whose leases went stale (`remove_pool_networks`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

import docker.errors

from app.executor.actions.containers import prepare_run, remove_network

logger = logging.getLogger(__name__)

POOL_LABEL = "dev.shiplog.network-pool"
"""On a pooled network: the pool's id (one per runner process)."""
RUNNER_LABEL = "dev.shiplog.runner"
"""On a pooled network: the name of the runner that lends it."""
POOL_PREFIX = "shiplog-pool-"


class RunNetworks(Protocol):
    """Where a run's network comes from, and where it goes once the run's containers are gone."""

    def take(self, run_id: str, labels: Mapping[str, str]) -> str:
        """The name of a network for the run's containers, used by no other run."""
        ...

    def give_back(self, run_id: str, name: str) -> None:
        """The run's containers are gone: the network may serve another run, or go."""
        ...


class OwnNetwork:
    """A network of the run's own, labelled with it; `cleanup_run` removes it."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def take(self, run_id: str, labels: Mapping[str, str]) -> str:
        """Create the run's network (see `prepare_run`)."""
        return prepare_run(self.client, run_id, labels)

    def give_back(self, run_id: str, name: str) -> None:
        """Nothing to do: the network went with the run's other objects."""


def has_endpoints(network: Any) -> bool:
    """Whether any container (even one removed a moment ago) still has an endpoint on it."""
    network.reload()
    return bool(network.attrs.get("Containers"))


class NetworkPool:
    """Networks one runner lends to its runs, one run per network at a time."""

    def __init__(self, client: Any, runner: str) -> None:
        self.client = client
        self.runner = runner
        self.pool_id = uuid.uuid4().hex[:12]
        self._idle: list[Any] = []
        self._lent: dict[str, Any] = {}  # run id -> network
        self._made = 0
        self._lock = threading.Lock()

    def take(self, run_id: str, labels: Mapping[str, str]) -> str:
        """An idle network of the pool, or a new one."""
        with self._lock:
            network = self._idle.pop() if self._idle else None
        if network is not None:
            try:
                network.reload()  # a reaper may have taken this runner for gone
            except docker.errors.NotFound:
                network = None
        if network is None:
            with self._lock:
                self._made += 1
                number = self._made
            network = self.client.networks.create(
                f"{POOL_PREFIX}{self.pool_id}-{number}",
                driver="bridge",
                labels={RUNNER_LABEL: self.runner, POOL_LABEL: self.pool_id},
                check_duplicate=True,
            )
        with self._lock:
            self._lent[run_id] = network
        return str(network.name)

    def give_back(self, run_id: str, name: str) -> None:
        """Lend the network again if nothing is left on it; otherwise remove it."""
        with self._lock:
            network = self._lent.pop(run_id, None)
        if network is None:
            return
        try:
            if not has_endpoints(network):
                with self._lock:
                    self._idle.append(network)
                return
            remove_network(network)
        except docker.errors.NotFound:
            return  # removed by someone else: the pool makes another when it needs one
        except Exception:
            # The engine is not answering: forget the network; `close` removes it.
            logger.warning("network %s was not handed back cleanly", name, exc_info=True)

    def close(self) -> int:
        """Remove every network of the pool (its runs have ended); return how many."""
        with self._lock:
            self._idle.clear()
            self._lent.clear()
        selector = {"label": f"{POOL_LABEL}={self.pool_id}"}
        return sum(remove_network(n) for n in self.client.networks.list(filters=selector))


def remove_pool_networks(client: Any, runner: str) -> int:
    """Remove the empty pooled networks of a runner that is gone; return how many."""
    selector = {"label": [f"{RUNNER_LABEL}={runner}", POOL_LABEL]}
    removed = 0
    for network in client.networks.list(filters=selector):
        with contextlib.suppress(docker.errors.NotFound):
            if not has_endpoints(network):
                network.remove()
                removed += 1
    return removed
