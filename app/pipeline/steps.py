"""The steps of a pipeline file, one model per kind, and the union that picks a step's kind.

A step with commands is the default kind; a typed step is told by its key (`build:`,
`push:`, `scan:`), and a step has at most one. A new kind is a model here with its
`key`, listed in STEP_KINDS and in the `Step` union (the executor then needs a kind
of its own in app/executor/kinds/).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, ClassVar

from pydantic import Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from app.pipeline.fields import (
    DEFAULT_TIMEOUT,
    RESERVED_KINDS,
    Duration,
    EnvName,
    ImageRef,
    LabelKey,
    RelativePath,
    Repository,
    SecretName,
    Severity,
    StageName,
    StepName,
    StepNames,
    TagName,
    TargetName,
    normalize_image,
)
from app.pipeline.parts import BuildArg, FromSecret, FrozenModel, Loc, When
from app.pipeline.sandbox import SandboxOptions


class _Step(FrozenModel):
    kind: ClassVar[str] = "step"
    """The kind in words: the union's tag, and how messages name it."""
    key: ClassVar[str | None] = None
    """The key that makes a step of this kind (`build`), None for the default kind."""

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


class CommandStep(_Step, SandboxOptions):
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


class BuildSpec(FrozenModel):
    """How to build an image from the workspace with the Docker engine."""

    context: RelativePath = Field(default=".", description="Build context in the workspace.")
    dockerfile: RelativePath = Field(
        default="Dockerfile", description="Dockerfile path, relative to the context."
    )
    target: StageName | None = Field(default=None, description="Stage to build; default last.")
    args: dict[EnvName, BuildArg] = Field(
        default_factory=dict,
        description="Build arguments, plain strings. A `{from_secret: NAME}` value is refused: "
        "build arguments stay in the image's history; list the secret in `secrets` instead.",
    )
    secrets: tuple[SecretName, ...] = Field(
        default=(),
        description="Secrets the build may read through BuildKit secret mounts, each as "
        "`RUN --mount=type=secret,id=NAME` (the file /run/secrets/NAME); never kept in the image.",
    )
    tags: tuple[ImageRef, ...] = Field(
        min_length=1, description="Tags given to the image; later steps use them as `image`."
    )
    labels: dict[LabelKey, str] = Field(default_factory=dict, description="Image labels.")


class BuildStep(_Step):
    """Builds an image from the workspace and tags it."""

    kind: ClassVar[str] = "build step"
    key: ClassVar[str | None] = "build"

    build: BuildSpec = Field(description="What to build.")

    def secret_refs(self) -> list[tuple[Loc, str]]:
        """Every secret name this step uses, with where inside the step it is named."""
        mounted: list[tuple[Loc, str]] = [
            (("build", "secrets", index), name) for index, name in enumerate(self.build.secrets)
        ]
        return mounted + [
            (("build", "args", key, "from_secret"), value.from_secret)
            for key, value in self.build.args.items()
            if isinstance(value, FromSecret)
        ]


class PushSpec(FrozenModel):
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
    key: ClassVar[str | None] = "push"

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


class ScanSpec(FrozenModel):
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
    key: ClassVar[str | None] = "scan"

    scan: ScanSpec = Field(description="What to scan, and when the step fails.")

    def image_used(self) -> str | None:
        """The image scanned (a build step's name stands for the image that step builds)."""
        return self.scan.image

    def image_loc(self) -> Loc:
        """Where, inside the step, `image_used` is written."""
        return ("scan", "image")


class NotifySpec(FrozenModel):
    """Which notification target to tell, and what."""

    target: TargetName = Field(description="A notification target an admin registered.")
    message: str = Field(
        default="",
        max_length=2000,
        description="The text to send; default: the pipeline's name, the run's branch and the "
        "state of the steps before this one.",
    )


class NotifyStep(_Step):
    """Tells a notification target about the run (delivered from the outbox, with retries)."""

    kind: ClassVar[str] = "notify step"
    key: ClassVar[str | None] = "notify"

    notify: NotifySpec = Field(description="Whom to tell, and what.")


STEP_KINDS: dict[str, type[_Step]] = {
    model.kind: model for model in (CommandStep, BuildStep, PushStep, ScanStep, NotifyStep)
}
"""The step models by the tag their union uses; the tags also name them in messages."""

TYPED_KINDS: tuple[str, ...] = tuple(m.key for m in STEP_KINDS.values() if m.key is not None)
"""Keys that make a step a typed step; a step has at most one of them."""


def _step_kind(value: Any) -> str:
    """Pick a step's model: the first typed kind whose key the step has, else commands."""
    if isinstance(value, _Step):
        return value.kind
    if isinstance(value, dict):
        for model in STEP_KINDS.values():
            if model.key is not None and model.key in value:
                return model.kind
    return CommandStep.kind


Step = Annotated[
    Annotated[CommandStep, Tag(CommandStep.kind)]
    | Annotated[BuildStep, Tag(BuildStep.kind)]
    | Annotated[PushStep, Tag(PushStep.kind)]
    | Annotated[ScanStep, Tag(ScanStep.kind)]
    | Annotated[NotifyStep, Tag(NotifyStep.kind)],
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
