"""The step kinds the executor runs, listed once: a new kind is a module here and one entry.

Every step model of the pipeline package must have its kind here; a test checks that.
"""

from __future__ import annotations

from typing import Any

from app.executor.kinds.base import StepKind
from app.executor.kinds.build import BUILD
from app.executor.kinds.command import COMMAND
from app.executor.kinds.notify import NOTIFY
from app.executor.kinds.push import PUSH
from app.executor.kinds.scan import SCAN
from app.pipeline import Step

KINDS: tuple[StepKind[Any], ...] = (COMMAND, BUILD, PUSH, SCAN, NOTIFY)
"""Every kind of step the executor can run."""

_BY_MODEL: dict[type, StepKind[Any]] = {kind.model: kind for kind in KINDS}


def kind_of(step: Step) -> StepKind[Any]:
    """The kind that runs `step` (LookupError for a step model no kind runs)."""
    try:
        return _BY_MODEL[type(step)]
    except KeyError:
        raise LookupError(f"step {step.name}: no executor runs a {step.kind}") from None
