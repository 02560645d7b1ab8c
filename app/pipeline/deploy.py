"""How a service runs once delivered: replicas, ports, environment, secrets, health, strategy.

`ServiceSettings` is written in two places with one meaning: under a service of an
environment in the environments file (app/delivery/environments.py), and in a `deploy`
step of `.shiplog.yml`. Durations here may be zero and as long as thirty days
(`Period`), unlike a step's timeout.
"""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from app.pipeline.fields import EnvName, SecretName
from app.pipeline.parts import FrozenModel

MAX_PROXIED_REPLICAS = 10
"""Tasks per version of a blue/green or canary service (the proxy's servers per colour)."""

MAX_PERIOD = 30 * 24 * 3600
"""The longest period a setting may name (thirty days), in seconds."""

_PERIOD = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")

Strategy = Literal["rolling", "blue-green", "canary"]
"""How a service is moved to a new image: Swarm's rolling update, a proxy switch, or weights."""

STRATEGIES: tuple[str, ...] = ("rolling", "blue-green", "canary")


def parse_period(value: Any) -> Any:
    """Turn "0s", "90s", "10m", "1h30m", "2d" or a whole number of seconds into seconds."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError(
            "period_type", 'expected a period like "30s", "10m", "2h", "1d" or whole seconds'
        )
    if isinstance(value, str):
        text = value.strip()
        match = _PERIOD.match(text)
        if text.isdigit():
            seconds = int(text)
        elif text and match:
            units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
            seconds = sum(int(match[unit] or 0) * factor for unit, factor in units)
        else:
            raise PydanticCustomError(
                "period_format",
                '\'{text}\' is not a period: write it like "30s", "10m", "2h" or "1d"',
                # A lone surrogate in the message would break its encoding: written out.
                {"text": value.encode("utf-8", "backslashreplace").decode("utf-8")},
            )
    else:
        seconds = value
    if not 0 <= seconds <= MAX_PERIOD:
        raise PydanticCustomError(
            "period_range",
            "a period must be between 0 seconds and 30d, not {seconds} seconds",
            {"seconds": seconds},
        )
    return seconds


Period = Annotated[
    int,
    BeforeValidator(parse_period),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": MAX_PERIOD},
                {
                    "type": "string",
                    "pattern": r"^(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?$",
                },
            ]
        }
    ),
]
"""A length of time in whole seconds, written as seconds or like "90s", "10m", "2h", "1d"."""

PortNumber = Annotated[int, Field(ge=1, le=65535)]


class PortSettings(FrozenModel):
    """A port the service publishes on every node of the swarm, and where it goes inside."""

    published: PortNumber = Field(description="The port on the swarm's nodes.")
    target: PortNumber = Field(description="The port the service listens on inside its tasks.")
    protocol: Literal["tcp", "udp"] = Field(default="tcp", description="`tcp` or `udp`.")
    mode: Literal["ingress", "host"] = Field(
        default="ingress",
        description="`ingress`: Swarm's routing mesh on every node; `host`: bound directly "
        "on the node a task runs on (one task per node and port).",
    )


class HealthSettings(FrozenModel):
    """A health check: a task is healthy once its command succeeds, unhealthy after `retries`."""

    command: tuple[str, ...] | str = Field(
        description="The check: a list is run as is (exec form), a string by the image's "
        "`/bin/sh -c`. Exit 0 means healthy."
    )
    interval: Period = Field(default=5, description="Time between two checks.")
    timeout: Period = Field(default=3, description="Longest a check may take.")
    retries: int = Field(default=3, ge=1, le=100, description="Failures in a row = unhealthy.")
    start_period: Period = Field(
        default=0, description="Time a task has to start before failures count."
    )


class RollingSettings(FrozenModel):
    """Swarm's update and rollback settings for a rolling update; every one is set explicitly."""

    parallelism: int = Field(
        default=1, ge=0, le=1000, description="Tasks updated at once (0: all at once)."
    )
    delay: Period = Field(default=0, description="Pause between two batches of tasks.")
    monitor: Period = Field(
        default=5,
        description="How long each new task is watched after it starts; a task failing within "
        "it counts as a failed update.",
    )
    max_failure_ratio: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Share of failed tasks tolerated (0 to 1)."
    )
    timeout: Period = Field(
        default=600,
        description="How long the rollout may take to converge before shiplog rolls it back.",
    )


class AnalysisSettings(FrozenModel):
    """What a canary must show at each step, read from the proxy's metrics and HTTP probes."""

    max_error_rate: float = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        description="Largest share of the canary's responses that may be 5xx (0 to 1).",
    )
    max_latency_ms: int | None = Field(
        default=None,
        ge=1,
        description="Largest mean response time of the canary, in milliseconds; null: not checked.",
    )
    min_requests: int = Field(
        default=0,
        ge=0,
        description="Requests the canary must have served in a measurement for it to count.",
    )
    probes: tuple[str, ...] = Field(
        default=(),
        description="Paths requested through the canary's own entry at each measurement, "
        "e.g. `/healthz`; each must answer 2xx or 3xx.",
    )
    interval: Period = Field(default=5, description="Time between two measurements of a step.")
    failure_limit: int = Field(
        default=0,
        ge=0,
        description="Failed measurements tolerated in the whole rollout; one more aborts it.",
    )


class CanarySettings(FrozenModel):
    """Traffic moved to the new image in steps of weight, each held for a pause and analysed."""

    steps: tuple[Annotated[int, Field(ge=1, le=100)], ...] = Field(
        default=(10, 25, 50, 100),
        min_length=1,
        description="Percentages of the traffic sent to the new image, rising, ending at 100.",
    )
    pause: Period = Field(default=30, description="How long each step is held and measured.")
    analysis: AnalysisSettings = Field(
        default_factory=AnalysisSettings, description="When a step passes."
    )

    @model_validator(mode="after")
    def _rising_to_all(self) -> CanarySettings:
        """The weights must rise and end at 100."""
        steps = self.steps
        if any(b <= a for a, b in itertools.pairwise(steps)) or steps[-1] != 100:
            raise PydanticCustomError(
                "canary_steps", "canary steps must rise and end at 100, e.g. [10, 25, 50, 100]"
            )
        return self


class BlueGreenSettings(FrozenModel):
    """The new image beside the old one; one proxy change switches; the old one is kept a while."""

    keep: Period = Field(
        default=600,
        description="How long the previous version keeps running after the switch (or a "
        "canary's promotion), so a rollback is one proxy change.",
    )


class ProxySettings(FrozenModel):
    """The ports of the HAProxy in front of a blue/green or canary service, on its node."""

    admin_port: PortNumber = Field(
        description="HAProxy's runtime API (weights), published on the node: keep it firewalled."
    )
    metrics_port: PortNumber = Field(description="HAProxy's Prometheus endpoint, `/metrics`.")
    preview_port: PortNumber | None = Field(
        default=None,
        description="Always reaches the newest version: a blue/green preview before the "
        "switch, and where a canary's probes go.",
    )


class ServiceSettings(FrozenModel):
    """How a service runs on the swarm: the same in an environments file and a deploy step."""

    replicas: int = Field(default=1, ge=0, le=100, description="Tasks of the service.")
    ports: tuple[PortSettings, ...] = Field(
        default=(),
        description="Published ports. Blue/green and canary publish the first one on their "
        "proxy, which forwards to `target` of the version it chooses.",
    )
    env: dict[EnvName, str] = Field(
        default_factory=dict,
        description="Environment variables of the tasks; recorded in the ledger as given, so "
        "anything secret belongs in `secrets`.",
    )
    secrets: tuple[SecretName, ...] = Field(
        default=(),
        description="shiplog secrets (`shiplog secret set`) given to the tasks as Swarm "
        "secrets, files `/run/secrets/<NAME>`; values are never recorded.",
    )
    health: HealthSettings | None = Field(
        default=None, description="The health check; default: the image's own, if any."
    )
    strategy: Strategy = Field(default="rolling", description="`rolling`, `blue-green`, `canary`.")
    rolling: RollingSettings = Field(
        default_factory=RollingSettings, description="Settings of rolling updates."
    )
    canary: CanarySettings = Field(
        default_factory=CanarySettings, description="Settings of canary rollouts."
    )
    blue_green: BlueGreenSettings = Field(
        default_factory=BlueGreenSettings, description="Settings of blue/green rollouts."
    )
    proxy: ProxySettings | None = Field(
        default=None, description="The proxy's ports; needed for blue/green and canary."
    )

    @model_validator(mode="after")
    def _proxy_needs_a_port(self) -> ServiceSettings:
        """Blue/green and canary put a proxy on the first published port: there must be one,
        the proxy's own ports, and at most MAX_PROXIED_REPLICAS tasks per version."""
        if self.strategy == "rolling":
            return self
        if not self.ports:
            raise PydanticCustomError(
                "proxy_port",
                "a {strategy} service needs a published port for its proxy (`ports`)",
                {"strategy": self.strategy},
            )
        if self.proxy is None:
            raise PydanticCustomError(
                "proxy_settings",
                "a {strategy} service needs `proxy: {{admin_port, metrics_port}}`",
                {"strategy": self.strategy},
            )
        if self.replicas > MAX_PROXIED_REPLICAS:
            raise PydanticCustomError(
                "proxy_replicas",
                "a {strategy} service has at most {most} replicas per version",
                {"strategy": self.strategy, "most": MAX_PROXIED_REPLICAS},
            )
        return self
