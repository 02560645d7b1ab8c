"""A runner: claims queued runs, executes them, keeps their heartbeats, and reaps lost ones.

Many runners, on one host or many, share one database. They never coordinate
directly: a run is claimed by appending RunClaimed at version 0 (one winner),
liveness is a heartbeat row per run, and any runner that finds a claimed run
whose heartbeat went stale fails it as `runner-lost` and removes the run's
containers from its own engine. `shiplog run` uses the same machinery for one
run in the foreground.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from app.config import Settings
from app.delivery.desk import Desk
from app.engine import engine_version, local_socket_path
from app.executor import leases
from app.executor.actions.containers import cleanup_run
from app.executor.actions.networks import NetworkPool, RunNetworks, remove_pool_networks
from app.executor.actions.sandbox import SandboxPolicy
from app.executor.execution import Observers, RunExecution
from app.executor.hooks import runner_hooks
from app.executor.runs import RunLedger, RunRecorder
from app.keys import load_or_create_attestation_key
from app.pipeline import memory_bytes
from app.provenance.attestations import Attestor
from events.catalogue import Metadata
from events.retry import retrying
from events.store import EventStore
from events.vocabulary import RunClaimed, RunQueued

logger = logging.getLogger(__name__)

ENGINE_VERSION_SECONDS = 60.0
"""How long a runner trusts the engine version it last asked for (recorded in RunClaimed)."""
FOLLOW_SECONDS = 0.25
"""How soon the queue's follower notices that its runner is stopping."""


def runner_version() -> str:
    """The installed shiplog version, recorded in RunClaimed."""
    try:
        return importlib.metadata.version("shiplog")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def sandbox_policy(settings: Settings) -> SandboxPolicy:
    """How this runner confines step and service containers, from its settings."""
    return SandboxPolicy(
        memory=memory_bytes(settings.step_memory),
        cpus=settings.step_cpus,
        pids=settings.step_pids,
        max_memory=memory_bytes(settings.step_max_memory),
        max_cpus=settings.step_max_cpus,
        max_pids=settings.step_max_pids,
        capabilities=settings.step_capabilities,
        default_user=settings.step_user,
        docker_socket=local_socket_path(),
    )


def default_runner_name(settings: Settings) -> str:
    """This runner's identity: configured, or host:pid."""
    return settings.runner_name or f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Runner:
    """Claims and executes runs; one instance per process."""

    settings: Settings
    store: EventStore
    app_url: str
    client: Any
    name: str
    observers: Observers = field(default_factory=Observers)
    desks: Callable[[], Desk] | None = None  # what deploy steps decide with; None: no deploys
    networks: RunNetworks | None = None
    """Lends networks to this runner's runs; None: each run makes its own (`run_forever` pools)."""
    _active: dict[str, threading.Thread] = field(default_factory=dict, init=False)
    # Runs that have ended and are being cleaned up: their slot is free, their lease kept.
    _closing: dict[str, threading.Thread] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    # Set when there may be work to claim now: a run was queued, or a slot came free.
    _wake: threading.Event = field(default_factory=threading.Event, init=False)
    _engine_seen: tuple[float, str] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.ledger = RunLedger(self.store)
        self.metadata = Metadata(actor=f"runner:{self.name}", source="runner")
        attestor = Attestor(load_or_create_attestation_key(self.settings), self.store)
        self.hooks = runner_hooks(
            attestor, self.store, sbom_after_build=self.settings.sbom_after_build
        )

    def _db(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        """A pooled connection for lease bookkeeping (heartbeats come every few seconds)."""
        return self.store.connection()

    def _on_lease(self, work: Callable[[psycopg.Connection[Any]], None]) -> None:
        """Lease bookkeeping that must happen, repeated while the database restarts."""

        def attempt() -> None:
            with self._db() as conn:
                work(conn)

        retrying(attempt, self.store.retry_seconds, what="run lease")

    def claimed_event(self) -> RunClaimed:
        """The RunClaimed this runner appends."""
        return RunClaimed(
            runner=self.name,
            runner_version=runner_version(),
            docker_version=self._engine_version(),
        )

    def _engine_version(self) -> str:
        """The engine's version, asked again at most once per ENGINE_VERSION_SECONDS.

        An engine upgraded under a running runner is recorded from the next ask on.
        """
        now = time.monotonic()
        with self._lock:
            known = self._engine_seen
        if known is not None and now - known[0] < ENGINE_VERSION_SECONDS:
            return known[1]
        version = engine_version(self.client)
        with self._lock:
            self._engine_seen = (now, version)
        return version

    def active(self) -> list[str]:
        """Ids of the runs this runner is executing now (their outcome not yet recorded)."""
        with self._lock:
            return list(self._active)

    def leased(self) -> list[str]:
        """Ids of the runs this runner holds a lease for: executing, or being cleaned up."""
        with self._lock:
            return [*self._active, *self._closing]

    # --- one run ------------------------------------------------------------------------

    def execute_claimed(self, recorder: RunRecorder, queued: RunQueued) -> None:
        """Execute a run this runner claimed, heartbeat included, in the calling thread."""
        self._on_lease(lambda conn: leases.take(conn, recorder.run_id, self.name))
        with self._lock:
            self._active[recorder.run_id] = threading.current_thread()
        execution = RunExecution(
            ledger=self.ledger,
            recorder=recorder,
            queued=queued,
            client=self.client,
            app_url=self.app_url,
            work_dir=self.settings.work_dir,
            parallelism=self.settings.step_parallelism,
            observers=self.observers,
            sandbox=sandbox_policy(self.settings),
            keyring=self.settings.keyring_path,
            hooks=self.hooks,
            osv_dir=self.settings.osv_dir,
            docker_cli=self.settings.docker_cli,
            engine_wait=self.settings.engine_wait,
            push_attempts=self.settings.push_attempts,
            push_retry_seconds=self.settings.push_retry_delay,
            desks=self.desks,
            networks=self.networks,
        )
        try:
            execution.execute()
        finally:
            # The outcome is recorded: the slot is free for the next claim while this
            # thread removes what the run left. The lease stays until then, so if this
            # process dies meanwhile the lease goes stale and a reaper removes the rest.
            with self._lock:
                self._active.pop(recorder.run_id, None)
                self._closing[recorder.run_id] = threading.current_thread()
            self._wake.set()
            try:
                execution.remove_leftovers()
                if execution.cleaned:
                    self._on_lease(lambda conn: leases.release(conn, recorder.run_id))
                # Otherwise the engine did not come back in time: the lease, no longer
                # refreshed, goes stale, and a reaper on this host removes what is left.
            finally:
                with self._lock:
                    self._closing.pop(recorder.run_id, None)

    # --- the loop -----------------------------------------------------------------------

    def claim_queued(self) -> list[str]:
        """Claim as many queued runs as there is room for, starting each in its own thread."""
        room = self.settings.runner_concurrency - len(self.active())
        if room <= 0:
            return []
        candidates = leases.queued_runs(self.store, room * 4)
        started: list[str] = []
        for run_id in candidates:
            if len(started) == room:
                break
            state = self.ledger.state(run_id)
            if state.status != "queued" or state.queued is None:
                continue
            recorder = self.ledger.claim(run_id, self.claimed_event(), self.metadata)
            if recorder is None:
                continue  # another runner was first
            thread = threading.Thread(
                target=self.execute_claimed,
                args=(recorder, state.queued),
                name=f"run-{run_id}",
            )
            with self._lock:
                self._active[run_id] = thread
            thread.start()
            started.append(run_id)
        return started

    def heartbeat(self) -> None:
        """Refresh the heartbeat of every active run."""
        with self._db() as conn:
            leases.beat(conn, self.name, self.leased())

    def reap(self) -> list[str]:
        """Fail runs whose runner is lost and remove their containers; return the runs failed."""
        timeout = self.settings.heartbeat_timeout
        lost = leases.lost_runs(self.store, timeout)
        with self._db() as conn:
            stale = leases.stale_leases(conn, timeout)
        mine = set(self.leased())
        failed: list[str] = []
        for run_id in lost:
            if run_id in mine:
                continue
            state = self.ledger.state(run_id)
            if not state.finished and self.ledger.fail_lost(run_id, self.metadata, expected=state):
                failed.append(run_id)
        gone: set[str] = set()
        for run_id in dict.fromkeys([*failed, *stale]):
            if run_id not in mine:
                cleanup_run(self.client, run_id)
                with self._db() as conn:
                    leases.release(conn, run_id)
                gone.add(stale.get(run_id, self.name))
        # A runner whose leases went stale is gone, and so is its use for its networks.
        for runner in gone - {self.name}:
            remove_pool_networks(self.client, runner)
        return failed

    def run_forever(self, stop: threading.Event) -> None:
        """Claim and reap until `stop` is set, then finish the active runs; heartbeat throughout."""
        pool = self.networks = NetworkPool(self.client, self.name)
        try:
            self._run_until(stop)
        finally:
            self.networks = None
            pool.close()

    def _run_until(self, stop: threading.Event) -> None:
        # Polling alone would leave a queued run, or a slot just freed, idle for up to a
        # poll interval. So the loop also wakes when a RunQueued is appended (followed
        # through the ledger's NOTIFY) and when one of its runs ends. The poll stays: a
        # wake-up may be lost, and reaping lost runs needs no wake-up, only a clock.
        follower = threading.Thread(
            target=self._follow_queue, args=(stop,), name=f"{self.name}-queue", daemon=True
        )
        follower.start()
        with self.beating():
            reap_due = 0.0
            while not stop.is_set():
                try:
                    if time.monotonic() >= reap_due:
                        reap_due = time.monotonic() + self.settings.poll_interval
                        self.reap()
                    self.claim_queued()
                except Exception:
                    # The database or the engine failing for a moment must not end the
                    # loop: the active runs go on, and the next poll tries again.
                    logger.exception("runner %s: looking for work failed; will retry", self.name)
                # Cleared after waking, before claiming: a wake-up that comes during a
                # claim is kept for the next turn, never lost.
                self._wake.wait(max(0.0, reap_due - time.monotonic()))
                self._wake.clear()
            for thread in self._threads():
                thread.join()
        follower.join(timeout=FOLLOW_SECONDS * 4)

    def _follow_queue(self, stop: threading.Event) -> None:
        """Wake the loop whenever a run is queued, and once more when `stop` is set."""
        while not stop.is_set():
            # The wake-up comes after the head is read: a run queued up to the head is
            # found by the claim it causes, and every later one by the subscription.
            try:
                head = self.store.head()
                self._wake.set()
                queued = self.store.subscribe(
                    head, types=(RunQueued.type_name,), poll_seconds=FOLLOW_SECONDS, stop=stop
                )
                for _ in queued:
                    self._wake.set()
            except Exception:
                # Meanwhile the loop finds queued runs at every poll, as without a follower.
                logger.warning(
                    "runner %s: following the queue failed; will retry", self.name, exc_info=True
                )
                stop.wait(self.settings.poll_interval)
        self._wake.set()

    def _threads(self) -> list[threading.Thread]:
        with self._lock:
            threads = {*self._active.values(), *self._closing.values()}
            return [t for t in threads if t is not threading.current_thread()]

    def _beat_until(self, stop: threading.Event) -> None:
        while not stop.wait(self.settings.heartbeat_interval):
            try:
                self.heartbeat()
            except Exception:
                # One failed beat must not end them all: a run whose heartbeats stopped
                # would be failed as runner-lost while it still runs here.
                logger.exception("runner %s: heartbeat failed; will retry", self.name)

    @contextmanager
    def beating(self) -> Iterator[None]:
        """Heartbeat the active runs in the background for the duration of the block."""
        stop = threading.Event()
        beats = threading.Thread(target=self._beat_until, args=(stop,), daemon=True)
        beats.start()
        try:
            yield
        finally:
            stop.set()
            beats.join(timeout=self.settings.heartbeat_interval * 2)
