"""Step dispatch: run one step by its kind, with its log, and close it with StepFinished.

Whatever the kind, a step ends the same way: StepTimedOut is exit code 124,
StepFailed or an engine refusal is exit code 1 with the reason in the log and in
StepFinished. A step of an untrusted run that names a secret fails before it starts. A step
stopped because the run is ending is closed with the stop's reason (or skipped, if
it had not started); a step stopped because someone else ended the run is left to
them, since they closed it. The Docker engine going away ends the step with exit
code unknown and reason `engine restarted` (or `engine unavailable` if it did not
come back in time), and then the run. The log is closed (and its digest taken)
before StepFinished records it; the reason is masked like the log.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import docker.errors

from app.engine import engine_gone, wait_for_engine
from app.executor.actions.errors import StepCancelled, StepFailed, StepTimedOut
from app.executor.hooks import Hooks
from app.executor.kinds.base import RunEnv
from app.executor.kinds.registry import kind_of
from app.executor.logs import StepLogWriter
from app.executor.runs import RunInterrupted, RunLedger
from app.executor.scheduling import Outcome
from app.executor.stop import TAKEN_OVER, EngineLost, RunStop
from app.pipeline import Service, Step
from app.steplogs import LogDigest
from events.catalogue import Event
from events.retry import disconnected
from events.vocabulary import StepFinished, StepSkipped, StepStarted

logger = logging.getLogger(__name__)

TIMED_OUT = "timed out"


@dataclass
class _Ending:
    """How a step ended, as StepFinished will say."""

    exit_code: int | None = 0
    timed_out: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class Dispatcher:
    """Runs the steps of one run, each by its kind; safe to call from several threads."""

    env: RunEnv
    ledger: RunLedger
    hooks: Hooks
    on_log: Callable[[str, str], None]
    stop: RunStop
    engine_wait: float = 60.0

    def run(self, step: Step) -> Outcome:
        """Run one step, record StepStarted … StepFinished, and say how it went."""
        env, started = self.env, time.monotonic()
        writer = StepLogWriter(
            self.ledger.store,  # its pool: a step needs no connection of its own
            env.ctx.run_id,
            step.name,
            env.masker,
            retry_seconds=self.ledger.store.retry_seconds,
        )
        began = False
        log_failure: list[Exception] = []

        def log(line: str) -> None:
            if not log_failure:
                try:
                    writer.write(line)
                except Exception as error:  # the log table cannot take more (a full disk)
                    log_failure.append(error)
            self.on_log(step.name, env.masker.mask(line))

        def record(*events: Event) -> None:
            nonlocal began
            env.record(*events)
            began = began or any(isinstance(e, StepStarted) for e in events)

        ending, raised = _Ending(), None
        try:
            if env.untrusted:
                withhold_secrets(f"step {step.name}", step)
            result = kind_of(step).run(dataclasses.replace(env, record=record), step, log)
            ending = _Ending(result.exit_code, result.timed_out, result.reason)
            if result.built_image is not None:
                for hook in self.hooks.after_build:
                    hook(env, step.name, result.built_image, log)
        except StepTimedOut as error:
            log(f"shiplog: {error}")
            ending = _Ending(124, True, TIMED_OUT)
        except StepCancelled:
            if self.stop.reason is TAKEN_OVER:
                # Whoever ended the run closed this step too; nothing more may be written.
                writer.close()
                raise RunInterrupted(self.ledger.state(env.ctx.run_id)) from None
            log(f"shiplog: step stopped: {self.stop.reason}")
            ending = _Ending(None, False, self.stop.reason)
        except StepFailed as error:
            log(f"shiplog: {error}")
            ending = _Ending(1, False, str(error))
        except docker.errors.APIError as error:
            # The engine refused a call the action does not translate, e.g. starting a
            # container whose image has no /bin/sh: that step failed, not the whole run.
            reason = f"the Docker engine refused: {error.explanation or error}"
            log(f"shiplog: {reason}")
            ending = _Ending(1, False, reason)
        except RunInterrupted:
            writer.close()
            raise
        except Exception as error:
            raised, reason = self._lost_or_broken(step, error, log)
            ending = _Ending(None, False, reason)
        digest = self._close_log(writer, log_failure)
        if digest is None:
            # Not stored, so not verifiable: the step cannot count as a success.
            failure = log_failure[0]
            ending.reason = ending.reason or f"log not stored ({type(failure).__name__})"
        if ending.reason is not None:
            ending.reason = env.masker.mask(ending.reason)
        if not began and ending.exit_code is None:
            # Stopped before it began: it did not run, so it did not finish either.
            env.record(StepSkipped(step=step.name, reason=ending.reason or "stopped"))
        else:
            env.record(
                StepFinished(
                    step=step.name,
                    exit_code=ending.exit_code,
                    duration_ms=ms_since(started),
                    log_sha256=None if digest is None else digest.sha256,
                    log_lines=None if digest is None else digest.lines,
                    timed_out=ending.timed_out,
                    reason=ending.reason,
                )
            )
        if raised is not None:
            raise raised
        return "success" if ending.exit_code == 0 and digest is not None else "failure"

    def _close_log(self, writer: StepLogWriter, failures: list[Exception]) -> LogDigest | None:
        """Close the step's log; None (the failure in `failures`) if it could not be stored.

        A lost connection was already retried for the store's retry window by then, and
        is raised: the run cannot go on without its database.
        """
        try:
            digest = writer.close()
        except Exception as error:
            if disconnected(error):
                raise
            failures.append(error)
            logger.warning(
                "run %s: log of step %s not stored: %s", writer.run_id, writer.step, error
            )
            return None
        return None if failures else digest

    def _lost_or_broken(
        self, step: Step, error: Exception, log: Callable[[str], None]
    ) -> tuple[Exception, str]:
        """What ends the run after `error` escaped a step (EngineLost, or the error itself),
        and the reason its StepFinished gives.

        A lost engine is waited for (up to `engine_wait` seconds) so that the
        step can say whether it restarted, and the run's containers can be removed.
        """
        if engine_gone(error):
            came_back = wait_for_engine(self.env.ctx.client, self.engine_wait)
            lost = EngineLost(step.name, came_back)
            log(f"shiplog: {lost}")
            return lost, lost.reason
        logger.exception("run %s: step %s failed unexpectedly", self.env.ctx.run_id, step.name)
        reason = f"internal error ({type(error).__name__})"
        log(f"shiplog: {reason}; see the runner's log")
        return error, reason


def withhold_secrets(owner: str, item: Step | Service) -> None:
    """In an untrusted run: fail a step or service that names secrets, before it runs."""
    names = sorted({name for _, name in item.secret_refs()})
    if names:
        raise StepFailed(
            f"{owner} needs secret(s) {', '.join(names)}, and an untrusted run (a pull "
            "request from a fork) gets none; keep it out of such runs (for a step: `when: "
            "event: [push]`)"
        )


def ms_since(started: float) -> int:
    """Milliseconds since `started`, a time.monotonic() reading."""
    return int((time.monotonic() - started) * 1000)
