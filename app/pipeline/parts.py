"""The parts of a pipeline file besides its steps: conditions, triggers, services, secret values.

Every model of the file is a FrozenModel: immutable once read, and refusing keys it
does not know, so a misspelt key is an error rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag

from app.pipeline.base import FrozenModel, Loc
from app.pipeline.fields import (
    EnvName,
    Events,
    Globs,
    ImageRef,
    SecretName,
    ServiceName,
    Statuses,
    glob_match,
)
from app.pipeline.sandbox import SandboxOptions

__all__ = [
    "WORKSPACE",
    "BuildArg",
    "FromSecret",
    "FrozenModel",
    "Loc",
    "Service",
    "Trigger",
    "When",
]

WORKSPACE = "/workspace"
"""Where every step's container sees the checked-out source; also its working directory."""


class FromSecret(FrozenModel):
    """A value taken from a named secret at run time; the file and the ledger hold only the name."""

    from_secret: SecretName = Field(description="Name of the secret that holds the value.")


def _arg_kind(value: Any) -> str:
    """Pick the member of `str | FromSecret` a build argument is meant to be."""
    return "from_secret value" if isinstance(value, dict | FromSecret) else "plain value"


BuildArg = Annotated[
    Annotated[str, Tag("plain value")] | Annotated[FromSecret, Tag("from_secret value")],
    Discriminator(_arg_kind),
]


class When(FrozenModel):
    """Conditions for running a step; every condition given must hold, an empty one always does."""

    branch: Globs = Field(
        default=(),
        description="Branch globs (`*` stays within one path segment, `**` crosses '/'). "
        "Ignored for runs without a branch (tags); for pull requests, the target branch.",
    )
    event: Events = Field(default=(), description="Events that may run the step.")
    status: Statuses = Field(
        default=("success",),
        min_length=1,
        description="Run when every upstream step succeeded (`success`), when one failed "
        "(`failure`), or both.",
    )

    def matches(self, *, branch: str | None, event: str, status: str) -> bool:
        """Whether a step with these conditions runs for this branch, event and upstream status."""
        if self.event and event not in self.event:
            return False
        if status not in self.status:
            return False
        return _branch_ok(self.branch, branch)


class Trigger(FrozenModel):
    """Which runs of the repository start this pipeline at all."""

    branches: Globs = Field(default=(), description="Branch globs; empty means every branch.")
    events: Events = Field(default=(), description="Events; empty means every event.")
    paths: Globs = Field(
        default=(),
        description="Path globs (`**` crosses '/'): a push or pull request starts the "
        "pipeline only if it changes a file matching one. Empty, or the changed files "
        "unknown (a new branch, a manual run): no condition.",
    )
    paths_ignore: Globs = Field(
        default=(),
        description="Path globs: a push or pull request that changes only files matching "
        "these does not start the pipeline.",
    )

    def matches(
        self, *, branch: str | None, event: str, changed: Sequence[str] | None = None
    ) -> bool:
        """Whether a run for this branch and event (changing these files) starts the pipeline."""
        if self.events and event not in self.events:
            return False
        if not _branch_ok(self.branches, branch):
            return False
        if changed is None:
            return True
        relevant = [f for f in changed if not any(glob_match(g, f) for g in self.paths_ignore)]
        if self.paths_ignore and changed and not relevant:
            return False
        if self.paths:
            return any(glob_match(g, f) for g in self.paths for f in relevant)
        return True


def _branch_ok(patterns: Iterable[str], branch: str | None) -> bool:
    """An empty pattern list, or a run without a branch, passes; else one glob must match."""
    patterns = tuple(patterns)
    if not patterns or branch is None:
        return True
    return any(glob_match(pattern, branch) for pattern in patterns)


class Service(SandboxOptions):
    """A sidecar container started before the first step, reachable by its name as host name."""

    name: ServiceName = Field(description="Host name of the service on the run's network.")
    image: ImageRef = Field(description="Image to run; not one built by this pipeline.")
    environment: dict[EnvName, str] = Field(
        default_factory=dict, description="Environment variables; values are strings."
    )
    commands: tuple[str, ...] = Field(
        default=(), description="Commands run in a shell instead of the image's own command."
    )
    secrets: tuple[SecretName, ...] = Field(
        default=(), description="Secret names, given as environment variables of the same name."
    )

    def secret_refs(self) -> list[tuple[Loc, str]]:
        """Every secret name this service uses, with where it is named."""
        return [(("secrets", index), name) for index, name in enumerate(self.secrets)]
