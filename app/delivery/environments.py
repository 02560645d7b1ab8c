"""The environments file: where each environment is, in which order, and what protects it.

```yaml
groups:
  release-managers: [alice, bob]
environments:
  - name: staging
    services:
      web: {replicas: 2, ports: [{published: 8081, target: 8080}]}
  - name: production
    requires: [staging]        # a digest must have succeeded there first
    soak: 1h                   # ... and have run there this long
    approvals: {count: 1, groups: [release-managers]}
    freeze: ["* 18-23 * * 5"]  # crontab windows in which nothing is deployed
    services:
      web: {replicas: 3, ports: [{published: 8080, target: 8080}], strategy: canary}
```

Environments are listed in delivery order; `requires` may name only environments above.
docs/delivery.md describes every key. `load_environments` refuses a file with every
problem at its line and column, as the pipeline loader does.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.delivery.errors import UnknownEnvironment
from app.delivery.windows import CronWindow, WindowError, parse_window
from app.pipeline.checks import render_loc
from app.pipeline.deploy import Period, ServiceSettings
from app.pipeline.document import YamlSyntaxError, compose
from app.pipeline.errors import PipelineError, Problem
from app.pipeline.fields import EnvironmentName, Globs, ServiceName, Severity
from app.pipeline.model import DEFER_CHECKS
from app.pipeline.parts import FrozenModel, Loc

ActorName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@+:/-]*$")]


class EnvironmentsError(PipelineError):
    """The environments file was refused; `problems` lists each with its line and column."""


class SwarmTarget(FrozenModel):
    """The swarm an environment deploys to, and how its services are named there."""

    docker_host: str | None = Field(
        default=None,
        description="The Docker API of a swarm manager, e.g. `unix:///var/run/docker.sock` "
        "or `tcp://manager:2376`; null: `DOCKER_HOST`, else the local engine.",
    )
    address: str = Field(
        default="127.0.0.1",
        description="Where shiplog reaches the ports the swarm publishes on its nodes (a "
        "proxy's runtime API and metrics).",
    )
    namespace: EnvironmentName | None = Field(
        default=None,
        description="Prefix of the Swarm service names (`<namespace>-<service>`); default: "
        "the environment's name. Environments sharing a swarm need different ones.",
    )


class ProvenanceGate(FrozenModel):
    """Provenance signed by this shiplog, from these repositories and branches."""

    repositories: Globs = Field(
        default=("**",),
        description="Globs the statement's repository must match (`**` crosses '/').",
    )
    branches: Globs = Field(
        default=("**",), description="Globs the branch it was built from must match."
    )


class ScanGate(FrozenModel):
    """A digest's latest scan must have no finding this severe or graver."""

    fail_on: Severity = Field(default="critical", description="`critical`, `high`, ... `low`.")


class Gates(FrozenModel):
    """The evidence a digest must have before it is deployed; null turns a gate off."""

    provenance: ProvenanceGate | None = Field(
        default_factory=ProvenanceGate, description="Signed provenance; null: not checked."
    )
    scan: ScanGate | None = Field(
        default_factory=ScanGate, description="The latest scan; null: not checked."
    )
    tests: bool = Field(
        default=True,
        description="The run that built it reported tests, and none failed.",
    )


class Approvals(FrozenModel):
    """How many people holding the `approver` role must approve each deployment."""

    count: int = Field(default=0, ge=0, le=10, description="Approvals needed; 0: none.")
    groups: tuple[str, ...] = Field(
        default=(),
        description="If given, approvers must be members of one of these `groups`.",
    )


class Environment(FrozenModel):
    """One environment: its swarm, its place in the order, its rules and its services."""

    name: EnvironmentName = Field(description="Its name, also its ledger stream `env-<name>`.")
    target: SwarmTarget = Field(default_factory=SwarmTarget, description="The swarm it deploys to.")
    requires: tuple[EnvironmentName, ...] = Field(
        default=(),
        description="Environments (listed above this one) where a digest must have been "
        "deployed successfully, and still run or have run for `soak`, before it comes here.",
    )
    soak: Period = Field(
        default=0,
        description="How long the digest must have run in each of `requires` (a wait timer).",
    )
    approvals: Approvals = Field(default_factory=Approvals, description="Who must approve.")
    freeze: tuple[str, ...] = Field(
        default=(),
        description="Crontab windows in which nothing is deployed here (deny wins over allow).",
    )
    allow: tuple[str, ...] = Field(
        default=(), description="If given, crontab windows outside which nothing is deployed."
    )
    timezone: str = Field(default="UTC", description="The time zone windows are read in.")
    wait_timeout: Period = Field(
        default=86400,
        description="How long a deployment may wait (approvals, soak, a freeze) before it expires.",
    )
    gates: Gates = Field(default_factory=Gates, description="The evidence gates.")
    services: dict[ServiceName, ServiceSettings] = Field(
        default_factory=dict, description="Each service's settings in this environment."
    )

    @field_validator("freeze", "allow")
    @classmethod
    def _windows(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Every window must be a valid crontab schedule."""
        for text in value:
            try:
                parse_window(text)
            except WindowError as error:
                raise PydanticCustomError("window", "{error}", {"error": str(error)}) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        """The time zone must be known to the system's zone database."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "timezone",
                "unknown time zone '{zone}', e.g. 'UTC' or 'Europe/Berlin'",
                {"zone": value},
            ) from None
        return value

    @property
    def namespace(self) -> str:
        """The prefix of this environment's Swarm service names."""
        return self.target.namespace or self.name

    @property
    def zone(self) -> ZoneInfo:
        """The time zone its windows are read in."""
        return ZoneInfo(self.timezone)

    def freeze_windows(self) -> list[CronWindow]:
        """The freeze windows, parsed."""
        return [parse_window(text) for text in self.freeze]

    def allow_windows(self) -> list[CronWindow]:
        """The allow windows, parsed."""
        return [parse_window(text) for text in self.allow]


class DeliveryConfig(FrozenModel):
    """Every environment, in delivery order, and the groups approval rules may name."""

    groups: dict[str, tuple[ActorName, ...]] = Field(
        default_factory=dict, description="Named groups of actors, for `approvals.groups`."
    )
    environments: tuple[Environment, ...] = Field(
        default=(), description="The environments, in delivery order."
    )

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> DeliveryConfig:
        """Unique names; `requires` names earlier environments; approval groups exist."""
        if info.context and info.context.get(DEFER_CHECKS):
            return self  # parse_environments checks them with their positions
        problems = cross_problems(self)
        if problems:
            raise ValueError("; ".join(message for _, message in problems))
        return self

    @property
    def names(self) -> list[str]:
        """The environments' names in delivery order."""
        return [environment.name for environment in self.environments]

    def environment(self, name: str) -> Environment:
        """The environment called `name`; UnknownEnvironment names those that exist."""
        for environment in self.environments:
            if environment.name == name:
                return environment
        known = ", ".join(self.names) or "none"
        raise UnknownEnvironment(f"no environment {name!r} is configured (configured: {known})")

    def members(self, groups: Iterable[str]) -> frozenset[str]:
        """Every actor of the named groups."""
        return frozenset(actor for group in groups for actor in self.groups.get(group, ()))


def cross_problems(config: DeliveryConfig) -> list[tuple[Loc, str]]:
    """What is wrong between environments, each at its place in the file."""
    problems: list[tuple[Loc, str]] = []
    seen: list[str] = []
    for index, environment in enumerate(config.environments):
        at: Loc = ("environments", index)
        if environment.name in seen:
            problems.append(((*at, "name"), f"environment {environment.name!r} is listed twice"))
        for n, required in enumerate(environment.requires):
            if required not in seen:
                problems.append(
                    (
                        (*at, "requires", n),
                        f"{environment.name!r} requires {required!r}, which is not listed above it",
                    )
                )
        for n, group in enumerate(environment.approvals.groups):
            if group not in config.groups:
                problems.append(
                    (
                        (*at, "approvals", "groups", n),
                        f"approval group {group!r} is not defined under `groups`",
                    )
                )
        seen.append(environment.name)
    return problems


NO_ENVIRONMENTS = DeliveryConfig()
"""The configuration when there is no environments file: nothing can be deployed."""


def parse_environments(text: str, source: str) -> DeliveryConfig:
    """The environments file's text as a DeliveryConfig; EnvironmentsError lists every problem."""
    try:
        document = compose(text)
    except YamlSyntaxError as error:
        where = error.position
        raise EnvironmentsError(
            [
                Problem(
                    source,
                    where.line if where else None,
                    where.column if where else None,
                    f"invalid YAML: {error.message}",
                )
            ]
        ) from error
    problems = [Problem(source, w.line, w.column, message) for w, message in document.problems]
    data: Any = document.data if document.data is not None else {}
    if not isinstance(data, dict):
        raise EnvironmentsError(
            [*problems, Problem(source, 1, 1, "the top level must be a mapping")]
        )
    try:
        config = DeliveryConfig.model_validate(data, context={DEFER_CHECKS: True})
    except ValidationError as error:
        for detail in error.errors():
            loc = tuple(detail["loc"])
            where = document.position(loc, at_key=detail["type"] == "extra_forbidden")
            problems.append(
                Problem(
                    source,
                    where.line if where else None,
                    where.column if where else None,
                    detail["msg"].removeprefix("Value error, "),
                    render_loc(loc),
                )
            )
        raise EnvironmentsError(problems) from None
    for loc, message in cross_problems(config):
        where = document.position(loc)
        problems.append(
            Problem(
                source,
                where.line if where else None,
                where.column if where else None,
                message,
                render_loc(loc),
            )
        )
    if problems:
        raise EnvironmentsError(problems)
    return config


def load_environments(path: Path | None) -> DeliveryConfig:
    """The environments file at `path`; no file (or None): no environments."""
    if path is None or not path.exists():
        return NO_ENVIRONMENTS
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise EnvironmentsError([Problem(str(path), None, None, f"cannot read: {error}")]) from None
    return parse_environments(text, str(path))
