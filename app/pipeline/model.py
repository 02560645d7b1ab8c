"""The pipeline file as typed, frozen pydantic models: `Pipeline`, its steps and services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.pipeline.fields import (
    DEFAULT_TIMEOUT,
    RESERVED_KINDS,
    Duration,
    EnvName,
    Events,
    Globs,
    ImageRef,
    LabelKey,
    RelativePath,
    Repository,
    SecretName,
    ServiceName,
    Severity,
    StageName,
    Statuses,
    StepName,
    StepNames,
    TagName,
    glob_match,
    normalize_image,
)

Loc = tuple[str | int, ...]
"""A path into the document: mapping keys and list indexes, as in pydantic's `loc`."""

WORKSPACE = "/workspace"
"""Where every step's container sees the checked-out source; also its working directory."""

EXTENSION_PREFIX = "x-"
"""Top-level keys with this prefix are ignored: a place for YAML anchors, as in Compose files."""

EXTENSION_PREFIX_PATTERN = "^x-"

TYPED_KINDS: tuple[str, ...] = ("build", "push", "scan")
"""Keys that make a step a typed step; a step has at most one of them."""

DEFER_CHECKS = "shiplog.pipeline.defer_checks"
"""Validation context key: skip the cross-step checks (the loader runs them with positions)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FromSecret(_Model):
    """A value taken from a named secret at run time; the file and the ledger hold only the name."""

    from_secret: SecretName = Field(description="Name of the secret that holds the value.")


def _arg_kind(value: Any) -> str:
    """Pick the member of `str | FromSecret` a build argument is meant to be."""
    return "from_secret value" if isinstance(value, dict | FromSecret) else "plain value"


BuildArg = Annotated[
    Annotated[str, Tag("plain value")] | Annotated[FromSecret, Tag("from_secret value")],
    Discriminator(_arg_kind),
]


class When(_Model):
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


class Trigger(_Model):
    """Which runs of the repository start this pipeline at all."""

    branches: Globs = Field(default=(), description="Branch globs; empty means every branch.")
    events: Events = Field(default=(), description="Events; empty means every event.")

    def matches(self, *, branch: str | None, event: str) -> bool:
        """Whether a run for this branch and event starts the pipeline."""
        if self.events and event not in self.events:
            return False
        return _branch_ok(self.branches, branch)


def _branch_ok(patterns: Iterable[str], branch: str | None) -> bool:
    """An empty pattern list, or a run without a branch, passes; else one glob must match."""
    patterns = tuple(patterns)
    if not patterns or branch is None:
        return True
    return any(glob_match(pattern, branch) for pattern in patterns)


class Service(_Model):
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


class _Step(_Model):
    kind: ClassVar[str] = "step"

    name: StepName = Field(description="Unique name; other steps' `depends_on` use it.")
    when: When = Field(default_factory=When, description="Conditions for running the step.")
    depends_on: StepNames | None = Field(
        default=None,
        description="Steps that must finish first. Once any step has `depends_on`, steps "
        "without it start at once; if none has it, each step waits for the one above.",
    )
    timeout: Duration = Field(
        default=DEFAULT_TIMEOUT,
        description='Longest run time: seconds, or a duration like "90s", "10m", "1h30m".',
    )

    @model_validator(mode="before")
    @classmethod
    def _one_known_kind(cls, data: Any) -> Any:
        """Refuse the reserved kinds, and steps that are two kinds at once."""
        if not isinstance(data, dict):
            return data
        for kind in RESERVED_KINDS:
            if kind in data:
                raise PydanticCustomError(
                    "reserved_step_kind",
                    "'{kind}' steps are reserved for later work and cannot be used yet",
                    {"kind": kind},
                )
        kinds = [kind for kind in TYPED_KINDS if kind in data]
        if len(kinds) > 1:
            raise PydanticCustomError(
                "step_kind_conflict",
                "a step is one kind: it cannot have both '{first}' and '{kind}'",
                {"first": kinds[0], "kind": kinds[1]},
            )
        return data

    def image_used(self) -> str | None:
        """The image this step needs to exist before it starts (None for a build step)."""
        return None

    def image_loc(self) -> Loc:
        """Where, inside the step, `image_used` is written."""
        return ("image",)

    def secret_refs(self) -> list[tuple[Loc, str]]:
        """Every secret name this step uses, with where inside the step it is named."""
        return []


class CommandStep(_Step):
    """Runs commands in a container of `image`, in the shared workspace."""

    kind: ClassVar[str] = "step with commands"

    image: ImageRef = Field(description="Image to run the commands in; may be built earlier.")
    commands: tuple[str, ...] = Field(
        default=(),
        description="Shell commands run one after another; the first failure fails the step. "
        "Without commands the image's own command runs.",
    )
    environment: dict[EnvName, str] = Field(
        default_factory=dict, description="Environment variables; values are strings."
    )
    secrets: tuple[SecretName, ...] = Field(
        default=(), description="Secret names, given as environment variables of the same name."
    )
    reports: tuple[RelativePath, ...] = Field(
        default=(), description="JUnit XML report paths or globs, relative to the workspace."
    )

    def image_used(self) -> str | None:
        """The image the commands run in."""
        return self.image

    def secret_refs(self) -> list[tuple[Loc, str]]:
        """Every secret name this step uses, with where inside the step it is named."""
        return [(("secrets", index), name) for index, name in enumerate(self.secrets)]


class BuildSpec(_Model):
    """How to build an image from the workspace with the Docker engine."""

    context: RelativePath = Field(default=".", description="Build context in the workspace.")
    dockerfile: RelativePath = Field(
        default="Dockerfile", description="Dockerfile path, relative to the context."
    )
    target: StageName | None = Field(default=None, description="Stage to build; default last.")
    args: dict[EnvName, BuildArg] = Field(
        default_factory=dict,
        description="Build arguments; a value `{from_secret: NAME}` is taken from a secret.",
    )
    tags: tuple[ImageRef, ...] = Field(
        min_length=1, description="Tags given to the image; later steps use them as `image`."
    )
    labels: dict[LabelKey, str] = Field(default_factory=dict, description="Image labels.")


class BuildStep(_Step):
    """Builds an image from the workspace and tags it."""

    kind: ClassVar[str] = "build step"

    build: BuildSpec = Field(description="What to build.")

    def secret_refs(self) -> list[tuple[Loc, str]]:
        """Every secret name this step uses, with where inside the step it is named."""
        return [
            (("build", "args", key, "from_secret"), value.from_secret)
            for key, value in self.build.args.items()
            if isinstance(value, FromSecret)
        ]


class PushSpec(_Model):
    """Which built image to push, where, and with which registry credentials."""

    image: ImageRef = Field(description="A tag built by an earlier build step of this pipeline.")
    repository: Repository = Field(description="Repository to push to, without tag.")
    tags: tuple[TagName, ...] = Field(min_length=1, description="Tags to push it under.")
    username: FromSecret | None = Field(default=None, description="Registry user, from a secret.")
    password: FromSecret | None = Field(
        default=None, description="Registry password, from a secret."
    )

    @model_validator(mode="after")
    def _both_credentials(self) -> PushSpec:
        """A username without a password, or the reverse, is a mistake."""
        if (self.username is None) != (self.password is None):
            raise PydanticCustomError(
                "credentials", "give both 'username' and 'password', or neither"
            )
        return self


class PushStep(_Step):
    """Pushes an image built by this pipeline to a registry."""

    kind: ClassVar[str] = "push step"

    push: PushSpec = Field(description="What to push, and where.")

    def image_used(self) -> str | None:
        """The built image that is pushed."""
        return self.push.image

    def image_loc(self) -> Loc:
        """Where, inside the step, `image_used` is written."""
        return ("push", "image")

    def secret_refs(self) -> list[tuple[Loc, str]]:
        """Every secret name this step uses, with where inside the step it is named."""
        credentials = (("username", self.push.username), ("password", self.push.password))
        return [
            (("push", field, "from_secret"), credential.from_secret)
            for field, credential in credentials
            if credential is not None
        ]


class ScanSpec(_Model):
    """Which image to inventory into an SBOM and match against the OSV advisories."""

    image: ImageRef = Field(
        description="The name of a build step of this pipeline (the image it built), a tag "
        "an earlier build step builds, or an image already on the runner's engine."
    )
    fail_on: Severity | None = Field(
        default=None,
        description="Fail the step when a finding is this severe or graver; default: report "
        "the findings and succeed.",
    )


class ScanStep(_Step):
    """Makes an image's SBOM and scans its packages against the OSV advisories."""

    kind: ClassVar[str] = "scan step"

    scan: ScanSpec = Field(description="What to scan, and when the step fails.")

    def image_used(self) -> str | None:
        """The image scanned (a build step's name stands for the image that step builds)."""
        return self.scan.image

    def image_loc(self) -> Loc:
        """Where, inside the step, `image_used` is written."""
        return ("scan", "image")


STEP_KINDS: dict[str, type[_Step]] = {
    CommandStep.kind: CommandStep,
    BuildStep.kind: BuildStep,
    PushStep.kind: PushStep,
    ScanStep.kind: ScanStep,
}
"""The step models by the tag their union uses; the tags also name them in messages."""


def _step_kind(value: Any) -> str:
    """Pick a step's model: `build:` makes a build step, `push:` a push step, else commands."""
    if isinstance(value, _Step):
        return value.kind
    if isinstance(value, dict) and "build" in value:
        return BuildStep.kind
    if isinstance(value, dict) and "push" in value:
        return PushStep.kind
    if isinstance(value, dict) and "scan" in value:
        return ScanStep.kind
    return CommandStep.kind


Step = Annotated[
    Annotated[CommandStep, Tag(CommandStep.kind)]
    | Annotated[BuildStep, Tag(BuildStep.kind)]
    | Annotated[PushStep, Tag(PushStep.kind)]
    | Annotated[ScanStep, Tag(ScanStep.kind)],
    Discriminator(_step_kind),
]


def built_tags(steps: Iterable[Step]) -> dict[str, str]:
    """Each tag built by a build step (normalized, `app` is `app:latest`) -> the step's name."""
    built: dict[str, str] = {}
    for step in steps:
        if isinstance(step, BuildStep):
            for tag in step.build.tags:
                built.setdefault(normalize_image(tag), step.name)
    return built


def producer_of(step: Step, steps: Iterable[Step]) -> str | None:
    """The build step that builds the image `step` uses, if any.

    A scan step's `image` may also be a build step's name: when no step builds a tag of
    that name, it stands for the image that step builds.
    """
    image = step.image_used()
    if image is None:
        return None
    steps = list(steps)
    producer = built_tags(steps).get(normalize_image(image))
    if producer is None and isinstance(step, ScanStep):
        names = {s.name for s in steps if isinstance(s, BuildStep)}
        producer = image if image in names else None
    return producer


class Pipeline(_Model):
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
        "`push` or `scan` step. `deploy` and `notify` are reserved for later work.",
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
        from app.pipeline.checks import check_pipeline, render_loc

        findings = check_pipeline(self)
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

    def triggered_by(self, *, branch: str | None, event: str) -> bool:
        """Whether a run for this branch and event starts this pipeline."""
        return self.trigger is None or self.trigger.matches(branch=branch, event=event)
