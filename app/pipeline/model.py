"""The pipeline file as a typed, frozen pydantic model: `Pipeline`, its services and its steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ConfigDict, Field, ValidationInfo, model_validator

from app.pipeline.checks import check_pipeline, render_loc
from app.pipeline.dag import step_dependencies
from app.pipeline.fields import normalize_image
from app.pipeline.parts import FrozenModel, Service, Trigger
from app.pipeline.sandbox import SandboxOptions
from app.pipeline.steps import Step, built_tags

EXTENSION_PREFIX = "x-"
"""Top-level keys with this prefix are ignored: a place for YAML anchors, as in Compose files."""

EXTENSION_PREFIX_PATTERN = "^x-"

DEFER_CHECKS = "shiplog.pipeline.defer_checks"
"""Validation context key: skip the cross-step checks (the loader runs them with positions)."""


class Pipeline(FrozenModel):
    """A `.shiplog.yml`: when it runs, its sidecar services and its steps."""

    model_config = ConfigDict(
        title="shiplog pipeline",
        json_schema_extra={"patternProperties": {EXTENSION_PREFIX_PATTERN: {}}},
    )

    name: str = Field(min_length=1, max_length=100, description="Name shown on the timeline.")
    trigger: Trigger | None = Field(default=None, description="Runs that start it; default all.")
    services: tuple[Service, ...] = Field(default=(), description="Sidecar containers.")
    steps: tuple[Step, ...] = Field(
        min_length=1,
        description="Steps in file order: each runs `commands` in an `image`, or is a `build`, "
        "`push`, `scan` or `notify` step. `deploy` is reserved for later work.",
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_extensions(cls, data: Any) -> Any:
        """Top-level keys starting with `x-` hold YAML anchors for reuse; they are ignored."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not str(k).startswith(EXTENSION_PREFIX)}
        return data

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> Pipeline:
        """Names, dependencies and images must agree across steps (see checks.py)."""
        if info.context and info.context.get(DEFER_CHECKS):
            return self
        findings = check_pipeline(self.steps, self.services)
        if findings:
            raise ValueError("; ".join(f"{render_loc(f.loc)}: {f.message}" for f in findings))
        return self

    @property
    def step_names(self) -> tuple[str, ...]:
        """Step names in file order."""
        return tuple(step.name for step in self.steps)

    def step(self, name: str) -> Step:
        """The step called `name` (KeyError if there is none)."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    @property
    def uses_depends_on(self) -> bool:
        """True when any step has `depends_on`: steps form a DAG, not a file-order chain."""
        return any(step.depends_on is not None for step in self.steps)

    def built_by(self, image: str) -> str | None:
        """The name of the build step that builds `image`, or None if no step builds it."""
        return built_tags(self.steps).get(normalize_image(image))

    def secret_names(self) -> frozenset[str]:
        """Every secret name used by any step or service."""
        refs = [ref for item in (*self.steps, *self.services) for ref in item.secret_refs()]
        return frozenset(name for _, name in refs)

    def privileges_asked(self) -> frozenset[str]:
        """Every privilege (privileged, host-network, docker-socket) a step or service asks for."""
        items = [item for item in (*self.steps, *self.services) if isinstance(item, SandboxOptions)]
        return frozenset(privilege for item in items for _, privilege in item.privileges())

    def triggered_by(
        self, *, branch: str | None, event: str, changed: Sequence[str] | None = None
    ) -> bool:
        """Whether a run for this branch and event (changing these files) starts this pipeline."""
        return self.trigger is None or self.trigger.matches(
            branch=branch, event=event, changed=changed
        )


def dependencies(pipeline: Pipeline) -> dict[str, frozenset[str]]:
    """What each step of a valid pipeline waits for, keyed in file order (see dag.py)."""
    return step_dependencies(pipeline.steps)
