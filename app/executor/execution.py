"""Execute one claimed run: workspace, pipeline, services, then the step graph, all recorded.

Steps run in threads, independent ones side by side up to `step_parallelism`.
Every event goes through the run's RunRecorder, which appends at the version
it wrote last; if anyone else moved the stream (a cancel, a reaper) the append
raises RunInterrupted, the run's containers are stopped, and nothing more is
written. A watcher notices a cancel even while every step is busy, so
containers stop within a couple of seconds rather than at the next append.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import docker.errors
import psycopg

from app.executor.actions import StepCancelled, StepFailed, StepTimedOut
from app.executor.actions.build import SourceFacts, run_build_step
from app.executor.actions.containers import (
    RunContext,
    cleanup_run,
    prepare_run,
    run_command_step,
    start_services,
)
from app.executor.actions.junit import read_reports
from app.executor.actions.push import run_push_step
from app.executor.actions.scan import gate, make_step_sbom, scan_step_packages
from app.executor.logs import StepLogWriter
from app.executor.masking import Masker
from app.executor.runs import RunInterrupted, RunRecorder, RunService, run_stream
from app.executor.secrets import SecretStore
from app.executor.source import SourceError, prepare_workspace, read_file_at
from app.pipeline import (
    BuildStep,
    CommandStep,
    Pipeline,
    PipelineError,
    PushStep,
    ScanStep,
    Step,
    ancestors,
    dependencies,
    parse_pipeline,
    pipeline_digest,
    ready,
)
from app.provenance.attestations import Attestor
from app.supplychain.service import MadeSbom, sbom_event
from app.supplychain.storage import store_sbom
from events.catalogue import Event
from events.errors import EventTooLarge
from events.vocabulary import (
    ImageBuilt,
    ImagePushed,
    RunCancelled,
    RunFailed,
    RunQueued,
    RunSucceeded,
    StepFinished,
    StepSkipped,
    StepStarted,
    TestsReported,
)

logger = logging.getLogger(__name__)

Outcome = Literal["success", "failure", "skipped"]
RUN_LABEL = "dev.shiplog.run"


@dataclass(frozen=True)
class Observers:
    """Optional callbacks for a live display: each recorded event, each log line."""

    on_event: Callable[[Event], None] = lambda event: None
    on_log: Callable[[str, str], None] = lambda step, line: None


@dataclass(frozen=True)
class _RunEnv:
    """What every step of one run shares."""

    ctx: RunContext
    pipeline: Pipeline
    secrets: Mapping[str, str]
    masker: Masker
    # Tag -> image id of what this run built. Tags are shared by every run on the
    # engine; later steps run and push the id, so never another run's image.
    built: dict[str, str] = field(default_factory=dict)
    # Build step name -> id of the image it built, for scan steps that name the step.
    built_steps: dict[str, str] = field(default_factory=dict)

    def image_id(self, reference: str) -> str | None:
        """The id of the image this run built under `reference` (`app` means `app:latest`)."""
        return self.built.get(reference) or self.built.get(f"{reference}:latest")


@dataclass
class RunExecution:
    """Everything one run needs while it executes."""

    service: RunService
    recorder: RunRecorder
    queued: RunQueued
    client: Any
    app_url: str
    work_dir: Path
    parallelism: int
    observers: Observers
    attestor: Attestor | None = None
    osv_dir: Path | None = None
    sbom_after_build: bool = False

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.recorder.run_id

    def record(self, *events: Event) -> None:
        """Append to the run's stream and tell the observers."""
        self.recorder.record(*events)
        for event in events:
            self.observers.on_event(event)

    def execute(self) -> None:
        """Run the pipeline to its end, recording the outcome; never raises for a failed run."""
        started = time.monotonic()
        cancelled = threading.Event()
        watcher = threading.Thread(target=self._watch_for_cancel, args=(cancelled,), daemon=True)
        workspace = self.work_dir / self.run_id
        try:
            watcher.start()
            pipeline, secrets = self._prepare(workspace)
            ctx = RunContext(
                client=self.client,
                run_id=self.run_id,
                workspace=workspace,
                network=prepare_run(self.client, self.run_id, {RUN_LABEL: self.run_id}),
                labels={RUN_LABEL: self.run_id},
                cancelled=cancelled,
            )
            env = _RunEnv(ctx, pipeline, secrets, Masker(secrets.values()))
            if pipeline.services:
                start_services(
                    ctx,
                    pipeline.services,
                    secrets,
                    log=lambda name, line: self.observers.on_log(name, env.masker.mask(line)),
                )
            failed = self._run_graph(env)
            if cancelled.is_set():
                return
            self._sign_provenance()
            if failed:
                self.record(RunFailed(reason=f"step {failed!r} failed", step=failed))
            else:
                self.record(RunSucceeded(duration_ms=_ms_since(started)))
        except RunInterrupted:
            # Cancelled, or declared lost: the stream already says how the run ended,
            # and nothing more may be written to it.
            return
        except KeyboardInterrupt:
            # `shiplog run` stopped with Ctrl-C: the steps were stopped (see _run_graph).
            # Say so now rather than leave the run looking alive until a reaper, if any
            # runner is about, declares it lost.
            with contextlib.suppress(RunInterrupted):
                self.record(RunCancelled(reason="interrupted: the runner was stopped (Ctrl-C)"))
            raise
        except (PipelineError, SourceError, StepFailed, LookupError, OSError) as error:
            self._fail_quietly(f"could not start: {error}")
        except Exception as error:
            # A bug or an engine failure. The message may quote configuration, so only
            # the exception's type goes into the ledger; the traceback goes to the log.
            logger.exception("run %s failed unexpectedly", self.run_id)
            self._fail_quietly(f"internal error ({type(error).__name__}); see the runner's log")
        finally:
            cancelled.set()
            watcher.join(timeout=5)
            cleanup_run(self.client, self.run_id)
            shutil.rmtree(workspace, ignore_errors=True)

    def _sign_provenance(self) -> None:
        """Sign each image the run built, now that every step (every push) has ended."""
        if self.attestor is None:
            return
        events = self.service.store.read_stream(run_stream(self.run_id))
        signed = self.attestor.sign_run(self.run_id, events)
        if signed:
            self.record(*signed)

    def _fail_quietly(self, reason: str) -> None:
        """Record RunFailed unless the run was taken over meanwhile."""
        with contextlib.suppress(RunInterrupted):
            self.record(RunFailed(reason=reason))

    def _prepare(self, workspace: Path) -> tuple[Pipeline, dict[str, str]]:
        """Check out the source, and read and check the pipeline it holds."""
        queued = self.queued
        # Workspaces are writable by the containers' users, so their parent is private.
        workspace.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        workspace.parent.chmod(0o700)
        shutil.rmtree(workspace, ignore_errors=True)
        prepare_workspace(
            None,
            clone_from=queued.checkout or queued.repository,
            commit=queued.commit,
            workspace=workspace,
            dirty=queued.dirty,
        )
        text = read_file_at(workspace, queued.pipeline_path)
        if pipeline_digest(text) != queued.pipeline_digest:
            raise SourceError(
                f"{queued.pipeline_path} at {queued.commit[:12]} is not the file that was queued "
                f"(digest {pipeline_digest(text)}, queued {queued.pipeline_digest})"
            )
        store = SecretStore(self.app_url)
        pipeline = parse_pipeline(
            text.decode("utf-8"), queued.pipeline_path, known_secrets=store.names()
        )
        return pipeline, store.values(pipeline.secret_names())

    def _watch_for_cancel(self, cancelled: threading.Event) -> None:
        """Set `cancelled` as soon as the run's stream moves past what this runner wrote."""
        while not cancelled.wait(1.0):
            try:
                state = self.service.state(self.run_id)
            except Exception:  # the database, for a moment: look again at the next tick
                logger.warning("run %s: cannot read its state; will retry", self.run_id)
                continue
            if state.finished and state.version > self.recorder.version:
                cancelled.set()

    def _run_graph(self, env: _RunEnv) -> str | None:
        """Run every step in dependency order; return the first failed step's name, if any."""
        deps = dependencies(env.pipeline)
        upstream = ancestors(deps)
        outcomes: dict[str, Outcome] = {}
        running: dict[str, Future[Outcome]] = {}
        with ThreadPoolExecutor(max_workers=self.parallelism) as pool:
            try:
                while len(outcomes) < len(env.pipeline.steps) and not env.ctx.cancelled.is_set():
                    free = self.parallelism - len(running)
                    for name in ready(set(outcomes), set(running), deps, limit=free):
                        step = env.pipeline.step(name)
                        failed_before = any(outcomes[a] == "failure" for a in upstream[name])
                        if self._skipped(step, failed_before):
                            outcomes[name] = "skipped"
                        else:
                            running[name] = pool.submit(self._run_step, env, step)
                    if running:
                        done, _ = wait(running.values(), return_when=FIRST_COMPLETED)
                        for name in [n for n, future in running.items() if future in done]:
                            outcomes[name] = running.pop(name).result()  # may raise RunInterrupted
            except BaseException:
                env.ctx.cancelled.set()  # stop the steps still running before the pool waits
                raise
        return next((name for name, outcome in outcomes.items() if outcome == "failure"), None)

    def _skipped(self, step: Step, failed_before: bool) -> bool:
        """Record StepSkipped and return True when the step's `when` rules it out."""
        branch, event = _branch(self.queued.ref), self.queued.trigger
        wanted = step.when.matches(
            branch=branch, event=event, status="failure" if failed_before else "success"
        )
        if not wanted:
            # Blame the failure only if the step would have run without it: a step whose
            # branch or event does not match is skipped by its `when`, failure or not.
            blocked_by_failure = failed_before and step.when.matches(
                branch=branch, event=event, status="success"
            )
            reason = "an earlier step failed" if blocked_by_failure else "its `when` does not match"
            self.record(StepSkipped(step=step.name, reason=reason))
        return not wanted

    def _run_step(self, env: _RunEnv, step: Step) -> Outcome:
        """Run one step, record StepStarted … StepFinished, and say how it went."""
        started = time.monotonic()
        writer = StepLogWriter(self.app_url, self.run_id, step.name, env.masker)

        def log(line: str) -> None:
            writer.write(line)
            self.observers.on_log(step.name, env.masker.mask(line))

        exit_code, timed_out = 0, False
        try:
            if isinstance(step, CommandStep):
                exit_code, timed_out = self._command(env, step, log)
            elif isinstance(step, BuildStep):
                self._build(env, step, log)
            elif isinstance(step, PushStep):
                self._push(env, step, log)
            elif isinstance(step, ScanStep):
                self._scan(env, step, log)
        except StepTimedOut as error:
            log(f"shiplog: {error}")
            exit_code, timed_out = 124, True
        except StepCancelled:
            raise RunInterrupted(self.service.state(self.run_id)) from None
        except StepFailed as error:
            log(f"shiplog: {error}")
            exit_code = 1
        except docker.errors.APIError as error:
            # The engine refused a call the action does not translate, e.g. starting a
            # container whose image has no /bin/sh: that step failed, not the whole run.
            log(f"shiplog: the Docker engine refused: {error.explanation or error}")
            exit_code = 1
        finally:
            digest = writer.close()
        self.record(
            StepFinished(
                step=step.name,
                exit_code=exit_code,
                duration_ms=_ms_since(started),
                log_sha256=digest.sha256,
                log_lines=digest.lines,
                timed_out=timed_out,
            )
        )
        return "success" if exit_code == 0 else "failure"

    def _command(
        self, env: _RunEnv, step: CommandStep, log: Callable[[str], None]
    ) -> tuple[int, bool]:
        def started(image: str, image_digest: str | None, commands_digest: str) -> None:
            self.record(
                StepStarted(
                    step=step.name,
                    image=image,
                    image_digest=image_digest,
                    commands_digest=commands_digest,
                )
            )

        outcome = run_command_step(
            env.ctx,
            step,
            image=step.image,
            image_id=env.image_id(step.image),
            secrets={name: env.secrets[name] for name in step.secrets},
            log=log,
            on_started=started,
            timeout=float(step.timeout),
        )
        if outcome.cancelled:
            raise RunInterrupted(self.service.state(self.run_id))
        if step.reports:
            # Read whatever the step's outcome: failing tests are the interesting ones.
            summary = read_reports(env.ctx.workspace, step.reports)
            if summary is not None:
                self.record(TestsReported(step=step.name, **summary.as_event_fields()))
        return outcome.exit_code, outcome.timed_out

    def _build(self, env: _RunEnv, step: BuildStep, log: Callable[[str], None]) -> None:
        self.record(_typed_step_started(step, "docker build", step.build.model_dump(mode="json")))
        facts = SourceFacts.of_run(self.queued, env.pipeline.name)
        built = run_build_step(env.ctx, step, source=facts, secrets=env.secrets, log=log)
        env.built.update(dict.fromkeys(built.tags, built.image_id))
        env.built_steps[step.name] = built.image_id
        self.record(ImageBuilt(step=step.name, **built.as_event_fields()))
        if self.sbom_after_build:
            self._sbom(env, step.name, built.image_id, log)

    def _push(self, env: _RunEnv, step: PushStep, log: Callable[[str], None]) -> None:
        spec = step.push
        self.record(_typed_step_started(step, "docker push", spec.model_dump(mode="json")))
        credentials = None
        if spec.username is not None and spec.password is not None:
            credentials = (
                env.secrets[spec.username.from_secret],
                env.secrets[spec.password.from_secret],
            )
        image_id = env.image_id(spec.image)
        for pushed in run_push_step(
            env.ctx, step, image_id=image_id, credentials=credentials, log=log
        ):
            self.record(
                ImagePushed(
                    step=step.name,
                    repository=pushed.repository,
                    tag=pushed.tag,
                    digest=pushed.digest,
                    image_id=image_id,
                )
            )

    def _scan(self, env: _RunEnv, step: ScanStep, log: Callable[[str], None]) -> None:
        spec = step.scan
        self.record(_typed_step_started(step, "shiplog scan", spec.model_dump(mode="json")))
        image = env.image_id(spec.image) or env.built_steps.get(spec.image) or spec.image
        made = self._sbom(env, step.name, image, log)
        result = scan_step_packages(step, made, self.osv_dir, log)
        try:
            self.record(result.event(step.name, spec.fail_on))
        except EventTooLarge as error:
            raise StepFailed(
                f"step {step.name}: {len(result.matches)} findings do not fit in one "
                f"ScanCompleted event ({error}); raise SHIPLOG_MAX_EVENT_BYTES"
            ) from None
        gate(step, result)

    def _sbom(self, env: _RunEnv, step: str, image: str, log: Callable[[str], None]) -> MadeSbom:
        """Make the SBOM of `image`, store it and record SbomGenerated for `step`."""
        made = make_step_sbom(env.ctx, step, image, log)
        with psycopg.connect(self.app_url) as conn:
            store_sbom(conn, made.sbom, made.packages)
        self.record(sbom_event(made.sbom, step))
        return made


def _typed_step_started(step: Step, action: str, spec: dict[str, Any]) -> StepStarted:
    """StepStarted for a build or push step: the 'commands' are its canonical spec."""
    body = json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    return StepStarted(
        step=step.name,
        image=action,
        image_digest=None,
        commands_digest="sha256:" + hashlib.sha256(body).hexdigest(),
    )


def _branch(ref: str) -> str | None:
    """The branch a ref names, or None for tags and detached heads."""
    return ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
