"""Execute one claimed run: checkout, services, the step graph, the hooks, the outcome.

The pieces: checkout.py clones the commit and reads its pipeline, scheduling.py
orders the steps, dispatch.py runs each step by its kind (kinds/), hooks.py holds
the work that follows a build (SBOMs, provenance signing), watcher.py notices a
cancel. Every event goes through the run's RunRecorder, which appends at the
version it wrote last; if anyone else moved the stream (a cancel, a reaper) the
append raises RunInterrupted, the run's containers are stopped, and nothing more
is written.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.delivery.desk import Desk
from app.engine import engine_gone, wait_for_engine
from app.executor.actions.containers import RunContext, cleanup_run
from app.executor.actions.errors import StepFailed
from app.executor.actions.masking import Masker
from app.executor.actions.networks import OwnNetwork, RunNetworks
from app.executor.actions.sandbox import SandboxPolicy
from app.executor.actions.services import start_services
from app.executor.actions.support import RUN_LABEL
from app.executor.checkout import check_out_run
from app.executor.dispatch import Dispatcher, ms_since, withhold_secrets
from app.executor.hooks import Hooks
from app.executor.kinds.base import RunEnv
from app.executor.runs import RunInterrupted, RunLedger, RunRecorder, run_stream
from app.executor.scheduling import run_graph
from app.executor.source import SourceError
from app.executor.stop import INTERRUPTED, EngineLost, RunStop
from app.executor.watcher import CancelWatcher
from app.pipeline import PipelineError, Step
from events.catalogue import Event
from events.vocabulary import RunCancelled, RunFailed, RunQueued, RunSucceeded, StepSkipped

logger = logging.getLogger(__name__)

CANNOT_START = (PipelineError, SourceError, StepFailed, LookupError, OSError)
"""What keeps a run from starting: a bad pipeline or checkout, a missing image, a file."""


@dataclass(frozen=True)
class Observers:
    """Optional callbacks for a live display: each recorded event, each log line."""

    on_event: Callable[[Event], None] = lambda event: None
    on_log: Callable[[str, str], None] = lambda step, line: None


@dataclass
class RunExecution:
    """Everything one run needs while it executes."""

    ledger: RunLedger
    recorder: RunRecorder
    queued: RunQueued
    client: Any
    app_url: str
    work_dir: Path
    parallelism: int
    observers: Observers
    sandbox: SandboxPolicy
    keyring: Path | None
    hooks: Hooks = field(default_factory=Hooks)
    osv_dir: Path | None = None
    desks: Callable[[], Desk] | None = None
    docker_cli: str | None = None
    engine_wait: float = 60.0
    push_attempts: int = 3
    push_retry_seconds: float = 1.0
    networks: RunNetworks | None = None
    """Where the run's network comes from; None: a network of its own."""
    cleaned: bool = field(default=False, init=False)
    """Whether everything of the run was removed from the engine when it ended."""
    _network: str | None = field(default=None, init=False)

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.recorder.run_id

    def record(self, *events: Event) -> None:
        """Append to the run's stream and tell the observers."""
        self.recorder.record(*events)
        for event in events:
            self.observers.on_event(event)

    @property
    def workspace(self) -> Path:
        """Where the run's commit is checked out."""
        return self.work_dir / self.run_id

    def execute(self) -> None:
        """Run the pipeline to its end, recording the outcome; never raises for a failed run.

        What the run leaves on the engine and on disk stays until `remove_leftovers`.
        """
        started = time.monotonic()
        watcher = CancelWatcher(self.ledger, self.recorder, RunStop())
        try:
            watcher.start()
            failed = self._run(self.workspace, watcher.cancelled)
            if watcher.cancelled.is_set():
                return
            for hook in self.hooks.after_steps:
                hook(self.run_id, self.record)
            if failed:
                self.record(RunFailed(reason=f"step {failed!r} failed", step=failed))
            else:
                self.record(RunSucceeded(duration_ms=ms_since(started)))
        except RunInterrupted:
            # Cancelled, or declared lost: the stream already says how the run ended,
            # and nothing more may be written to it.
            return
        except KeyboardInterrupt:
            # `shiplog run` stopped with Ctrl-C: the steps were stopped (see run_graph)
            # and closed. Say so now rather than leave the run looking alive until a
            # reaper, if any runner is about, declares it lost.
            with contextlib.suppress(RunInterrupted):
                self.record(RunCancelled(reason=f"{INTERRUPTED}: the runner was stopped (Ctrl-C)"))
            raise
        except EngineLost as lost:
            # Policy: the run fails. Its services went with the engine, and a step run
            # again could repeat an effect (a push) that the lost one already had.
            self._fail_quietly(str(lost), step=lost.step)
        except Exception as error:
            if engine_gone(error):
                self._fail_quietly("the Docker engine stopped answering before the steps ran")
            elif isinstance(error, CANNOT_START):
                self._fail_quietly(f"could not start: {error}")
            else:
                # A bug, or a failure outside the steps. The message may quote
                # configuration, so only the exception's type goes into the ledger; the
                # traceback goes to the log.
                logger.exception("run %s failed unexpectedly", self.run_id)
                self._fail_quietly(f"internal error ({type(error).__name__}); see the runner's log")
        finally:
            watcher.stop()

    def remove_leftovers(self) -> None:
        """Remove the run's containers, network, volumes and workspace, once it has ended.

        Afterwards `cleaned` says whether the engine's part is gone: not if the engine
        stopped answering for longer than `engine_wait`, and then the run's stale lease
        tells a reaper on this host to remove them later.
        """
        self.cleaned = self._clean_up()
        if self.cleaned and self._network is not None:
            self._networks().give_back(self.run_id, self._network)
        shutil.rmtree(self.workspace, ignore_errors=True)

    def _networks(self) -> RunNetworks:
        return self.networks if self.networks is not None else OwnNetwork(self.client)

    def _clean_up(self) -> bool:
        """Remove the run's containers, network and volumes; False if the engine is gone."""
        for attempt in range(2):
            try:
                cleanup_run(self.client, self.run_id)
                return True
            except Exception as error:
                if not engine_gone(error) or attempt == 1:
                    logger.warning(
                        "run %s: the Docker engine is not back, so its containers stay until "
                        "a runner on this host reaps them (%s)",
                        self.run_id,
                        error,
                    )
                    return False
                wait_for_engine(self.client, self.engine_wait)
        return False

    def _run(self, workspace: Path, cancelled: RunStop) -> str | None:
        """Check out, start the services and run the steps; the first failed step, if any."""
        checked = check_out_run(self.queued, workspace, self.app_url, self.keyring)
        pipeline, secrets = checked.pipeline, checked.secrets
        sandbox = self.sandbox.allowing(checked.privileges, checked.repository)
        labels = {RUN_LABEL: self.run_id}
        ctx = RunContext(
            client=self.client,
            run_id=self.run_id,
            workspace=workspace,
            network=self._take_network(labels),
            labels=labels,
            cancelled=cancelled,
        )
        env = RunEnv(
            ctx=ctx,
            queued=self.queued,
            pipeline=pipeline,
            secrets=secrets,
            masker=Masker(secrets.values()),
            record=self.record,
            app_url=self.app_url,
            sandbox=sandbox,
            osv_dir=self.osv_dir,
            requested_by=self._requested_by(),
            desks=self.desks,
            before_deploy=self._before_deploy,
            untrusted=self.queued.untrusted,
            docker_cli=self.docker_cli,
            push_attempts=self.push_attempts,
            push_retry_seconds=self.push_retry_seconds,
        )
        if pipeline.services:
            for service in pipeline.services if self.queued.untrusted else ():
                withhold_secrets(f"service {service.name}", service)
            start_services(
                ctx,
                pipeline.services,
                secrets,
                log=lambda name, line: self.observers.on_log(name, env.masker.mask(line)),
                sandbox=sandbox,
            )
        dispatcher = Dispatcher(
            env, self.ledger, self.hooks, self.observers.on_log, cancelled, self.engine_wait
        )
        return run_graph(
            pipeline,
            # A pull request's steps match `when.branch` against its target branch.
            ref=f"refs/heads/{self.queued.branch}" if self.queued.branch else self.queued.ref,
            trigger=self.queued.trigger,
            parallelism=self.parallelism,
            cancelled=cancelled,
            run_step=dispatcher.run,
            skipped=self._skipped,
        )

    def _take_network(self, labels: dict[str, str]) -> str:
        self._network = self._networks().take(self.run_id, labels)
        return self._network

    def _requested_by(self) -> str:
        """Who queued the run (its RunQueued's actor)."""
        first = self.ledger.store.first_events([run_stream(self.run_id)])
        queued = first.get(run_stream(self.run_id))
        return queued.metadata.actor if queued is not None else "unknown"

    def _before_deploy(self) -> None:
        """What runs before a deploy step asks for a deployment (provenance signing)."""
        for hook in self.hooks.before_deploy:
            hook(self.run_id, self.record)

    def _skipped(self, step: Step, reason: str) -> None:
        self.record(StepSkipped(step=step.name, reason=reason))

    def _fail_quietly(self, reason: str, step: str | None = None) -> None:
        """Record RunFailed unless the run was taken over meanwhile."""
        with contextlib.suppress(RunInterrupted):
            self.record(RunFailed(reason=reason, step=step))
