"""Step actions: what runs a step against the Docker engine and returns the facts to record.

Nothing here touches the database or the ledger: the runner records the events from
what these functions return and pass to their callbacks.
"""

from app.executor.actions.build import BuiltImage, run_build_step
from app.executor.actions.containers import (
    CommandOutcome,
    RunContext,
    build_script,
    cleanup_run,
    commands_digest,
    network_name,
    prepare_run,
    run_command_step,
    step_container_running,
)
from app.executor.actions.context_digest import context_digest, digest_entries
from app.executor.actions.errors import StepCancelled, StepFailed, StepTimedOut
from app.executor.actions.junit import TestSummary, read_reports
from app.executor.actions.labels import SourceFacts
from app.executor.actions.masking import MASK
from app.executor.actions.push import PushedImage, run_push_step
from app.executor.actions.services import start_services
from app.executor.actions.support import LogSink

__all__ = [
    "MASK",
    "BuiltImage",
    "CommandOutcome",
    "LogSink",
    "PushedImage",
    "RunContext",
    "SourceFacts",
    "StepCancelled",
    "StepFailed",
    "StepTimedOut",
    "TestSummary",
    "build_script",
    "cleanup_run",
    "commands_digest",
    "context_digest",
    "digest_entries",
    "network_name",
    "prepare_run",
    "read_reports",
    "run_build_step",
    "run_command_step",
    "run_push_step",
    "start_services",
    "step_container_running",
]
