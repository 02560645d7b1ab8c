"""Why a step action did not produce its result: failed, cancelled or out of time."""

from __future__ import annotations


class StepFailed(RuntimeError):
    """The step failed for the reason in the message (safe to show: it holds no secret value)."""


class StepCancelled(StepFailed):
    """The run was cancelled (or lost) while the step ran, so the step was stopped."""


class StepTimedOut(StepFailed):
    """The step ran longer than its timeout and was killed."""
