"""Step dispatch: run one step by its kind, with its log, and close it with StepFinished.

Whatever the kind, a step ends the same way: StepTimedOut is exit code 124,
StepFailed or an engine refusal is exit code 1 with the reason in the log and in
StepFinished, and StepCancelled means the run was taken over, so nothing more is
recorded. A step of an untrusted run that names a secret fails before it starts.
The log is closed (and its digest taken) before StepFinished records it; the
reason is masked like the log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import docker.errors

from app.executor.actions.errors import StepCancelled, StepFailed, StepTimedOut
from app.executor.hooks import Hooks
from app.executor.kinds.base import RunEnv
from app.executor.kinds.registry import kind_of
from app.executor.logs import StepLogWriter
from app.executor.runs import RunInterrupted, RunLedger
from app.executor.scheduling import Outcome
from app.pipeline import Service, Step
from events.vocabulary import StepFinished


@dataclass(frozen=True)
class Dispatcher:
    """Runs the steps of one run, each by its kind; safe to call from several threads."""

    env: RunEnv
    ledger: RunLedger
    hooks: Hooks
    on_log: Callable[[str, str], None]

    def run(self, step: Step) -> Outcome:
        """Run one step, record StepStarted … StepFinished, and say how it went."""
        env, started = self.env, time.monotonic()
        writer = StepLogWriter(env.app_url, env.ctx.run_id, step.name, env.masker)

        def log(line: str) -> None:
            writer.write(line)
            self.on_log(step.name, env.masker.mask(line))

        exit_code, timed_out, reason = 0, False, None
        try:
            if env.untrusted:
                withhold_secrets(f"step {step.name}", step)
            result = kind_of(step).run(env, step, log)
            exit_code, timed_out, reason = result.exit_code, result.timed_out, result.reason
            if result.built_image is not None:
                for hook in self.hooks.after_build:
                    hook(env, step.name, result.built_image, log)
        except StepTimedOut as error:
            log(f"shiplog: {error}")
            exit_code, timed_out, reason = 124, True, str(error)
        except StepCancelled:
            raise RunInterrupted(self.ledger.state(env.ctx.run_id)) from None
        except StepFailed as error:
            log(f"shiplog: {error}")
            exit_code, reason = 1, str(error)
        except docker.errors.APIError as error:
            # The engine refused a call the action does not translate, e.g. starting a
            # container whose image has no /bin/sh: that step failed, not the whole run.
            reason = f"the Docker engine refused: {error.explanation or error}"
            log(f"shiplog: {reason}")
            exit_code = 1
        finally:
            digest = writer.close()
        env.record(
            StepFinished(
                step=step.name,
                exit_code=exit_code,
                duration_ms=ms_since(started),
                log_sha256=digest.sha256,
                log_lines=digest.lines,
                timed_out=timed_out,
                reason=env.masker.mask(reason) if reason is not None else None,
            )
        )
        return "success" if exit_code == 0 else "failure"


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
