"""What a step or service container may use: its resource limits, its user, and the privileges
(privileged mode, the host's network, the Docker socket) an administrator must allow.

The limits left out here come from the runner's settings (SHIPLOG_STEP_MEMORY, ...);
the privileges are refused unless the repository was allowed them (`shiplog sandbox
allow`), which the runner checks when the run starts and again when the step starts.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

from pydantic import BeforeValidator, Field, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

from app.pipeline.base import FrozenModel, Loc
from app.pipeline.fields import USER_PATTERN

Privilege = Literal["privileged", "host-network", "docker-socket"]
"""What a container can only have where an administrator allowed it for the repository."""

PRIVILEGES: Final[tuple[str, ...]] = ("privileged", "host-network", "docker-socket")

MIN_MEMORY: Final = 6 * 1024 * 1024
"""The least memory a container may be limited to (the Docker engine refuses less)."""

MIN_PIDS: Final = 8
_MEMORY = re.compile(r"^(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[kmgt]?)(?:i?b)?$", re.IGNORECASE)
_UNITS: Final = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def memory_bytes(value: Any) -> int:
    """Bytes of a memory size: `512m`, `2g`, `1.5GiB` (binary units, as Docker reads them)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError(
            "memory_type", 'expected a memory size like "512m" or "2g", or a number of bytes'
        )
    if isinstance(value, int):
        size = value
    else:
        match = _MEMORY.match(value.strip())
        if match is None:
            raise PydanticCustomError(
                "memory_format",
                '\'{text}\' is not a memory size: write it like "512m" or "2g"',
                {"text": value},
            )
        size = int(float(match["number"]) * _UNITS[match["unit"].lower()])
    if size < MIN_MEMORY:
        raise PydanticCustomError(
            "memory_range", "a memory limit must be at least 6m, not {size} bytes", {"size": size}
        )
    return size


def _cpus(value: Any) -> Any:
    """A number of CPUs, as a number (`0.5`, `2`); strings of digits are refused like elsewhere."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("cpus_type", "expected a number of CPUs like 0.5 or 2")
    return value


MemorySize = Annotated[
    int,
    BeforeValidator(memory_bytes),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": MIN_MEMORY},
                {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?\s*[kKmMgGtT]?([iI]?[bB])?$"},
            ]
        }
    ),
]
Cpus = Annotated[float, BeforeValidator(_cpus), Field(gt=0, le=1024)]
UserName = Annotated[str, StringConstraints(pattern=USER_PATTERN, max_length=64)]


class Resources(FrozenModel):
    """Limits of one container; each one left out is the runner's default."""

    memory: MemorySize | None = Field(
        default=None,
        description='Memory limit, swap included, e.g. "512m" or "2g"; a step that exceeds '
        "it is stopped and fails as out of memory.",
    )
    cpus: Cpus | None = Field(default=None, description="CPUs it may use, e.g. 0.5 or 2.")
    pids: int | None = Field(
        default=None,
        ge=MIN_PIDS,
        description="Most processes and threads at once; a step that reaches it is stopped "
        "and fails (a fork bomb ends there).",
    )


class SandboxOptions(FrozenModel):
    """The container options of a step with commands or a service."""

    resources: Resources = Field(
        default_factory=Resources, description="Memory, CPU and process limits."
    )
    user: UserName | None = Field(
        default=None,
        description='User (and group) to run as, e.g. "1000:1000" or "nobody"; default the '
        "image's own USER, else the runner's SHIPLOG_STEP_USER, else root without privileges.",
    )
    privileged: bool = Field(
        default=False,
        description="Run privileged (every capability, every device); only for repositories an "
        "administrator allowed `privileged`.",
    )
    host_network: bool = Field(
        default=False,
        description="Use the host's network instead of the run's; only for repositories an "
        "administrator allowed `host-network`.",
    )
    docker_socket: bool = Field(
        default=False,
        description="Mount the runner's Docker socket at /var/run/docker.sock; only for "
        "repositories an administrator allowed `docker-socket`.",
    )

    def privileges(self) -> list[tuple[Loc, str]]:
        """The privileges this container asks for, each with the key that asks."""
        asked = (
            ("privileged", self.privileged, "privileged"),
            ("host_network", self.host_network, "host-network"),
            ("docker_socket", self.docker_socket, "docker-socket"),
        )
        return [((key,), privilege) for key, wanted, privilege in asked if wanted]
