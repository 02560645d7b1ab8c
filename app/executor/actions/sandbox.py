"""The sandbox of step and service containers: limits, capabilities, user, and granted privileges.

Every container a run starts for a step or a service gets a memory limit (swap
included, so no swap beyond it), a CPU quota and a process limit, keeps only an
allow-list of capabilities (`cap_drop: ALL` plus SHIPLOG_STEP_CAPABILITIES), and
runs with `no-new-privileges`, so a setuid binary cannot win back what was
dropped. It runs as the step's `user`, else the image's own USER, else
SHIPLOG_STEP_USER, else root (without the dropped capabilities). Privileged mode,
the host's network and the Docker socket are given only to a repository an
administrator allowed them, and never to an untrusted run.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

from app.executor.actions.errors import StepFailed
from app.pipeline import SandboxOptions

MIB = 1024 * 1024
NO_NEW_PRIVILEGES = "no-new-privileges:true"
SOCKET_IN_CONTAINER = "/var/run/docker.sock"


@dataclass(frozen=True)
class Limits:
    """The resource limits of one container, as applied."""

    memory: int
    cpus: float
    pids: int

    def describe_memory(self) -> str:
        """The memory limit in words, e.g. `64 MiB`."""
        return f"{self.memory / MIB:g} MiB"


@dataclass(frozen=True)
class SandboxPolicy:
    """How this runner confines the containers of one run."""

    memory: int
    cpus: float
    pids: int
    max_memory: int
    max_cpus: float
    max_pids: int
    capabilities: tuple[str, ...]
    default_user: str | None = None
    allowed: frozenset[str] = frozenset()
    """Privileges granted to the run's repository (none for an untrusted run)."""
    repository: str = ""
    docker_socket: str | None = None
    """The engine's socket on this host, for containers allowed `docker-socket`."""

    def limits(self, owner: str, options: SandboxOptions) -> Limits:
        """The container's limits: those asked for, else the defaults; StepFailed above the most."""
        asked = options.resources
        limits = Limits(
            memory=asked.memory or self.memory,
            cpus=asked.cpus or self.cpus,
            pids=asked.pids or self.pids,
        )
        too_much = [
            f"{what} {value} is more than this runner allows ({most}, {setting})"
            for what, value, most, setting in (
                ("memory", limits.memory, self.max_memory, "SHIPLOG_STEP_MAX_MEMORY"),
                ("cpus", limits.cpus, self.max_cpus, "SHIPLOG_STEP_MAX_CPUS"),
                ("pids", limits.pids, self.max_pids, "SHIPLOG_STEP_MAX_PIDS"),
            )
            if value > most
        ]
        if too_much:
            raise StepFailed(f"{owner}: resources: {'; '.join(too_much)}")
        return limits

    def check_privileges(self, owner: str, options: SandboxOptions) -> None:
        """StepFailed naming the first privilege asked for that the repository was not allowed."""
        for _, privilege in options.privileges():
            if privilege not in self.allowed:
                raise StepFailed(
                    f"{owner} asks for '{privilege}', which {self.repository or 'this run'} is "
                    f"not allowed (an administrator allows it with `shiplog sandbox allow "
                    f"{privilege} --repo REPOSITORY`; untrusted runs never get it)"
                )

    def container_options(
        self, owner: str, options: SandboxOptions, image_user: str | None, network: str
    ) -> dict[str, Any]:
        """Keyword arguments for the engine's container create: limits, capabilities, user,
        and the network (the run's, or the host's where that was allowed)."""
        self.check_privileges(owner, options)
        limits = self.limits(owner, options)
        created: dict[str, Any] = {
            "mem_limit": limits.memory,
            "memswap_limit": limits.memory,
            "nano_cpus": int(limits.cpus * 1_000_000_000),
            "pids_limit": limits.pids,
        }
        if options.host_network:
            created["network_mode"] = "host"
        else:
            created["network"] = network
        if options.privileged:
            created["privileged"] = True
        else:
            created["cap_drop"] = ["ALL"]
            created["cap_add"] = list(self.capabilities)
            created["security_opt"] = [NO_NEW_PRIVILEGES]
        user = options.user or image_user or self.default_user
        if user:
            created["user"] = user
        if options.docker_socket:
            if self.docker_socket is None:
                raise StepFailed(
                    f"{owner} asks for the Docker socket, but this runner's engine is not on "
                    "a local unix socket (DOCKER_HOST)"
                )
            created["volumes"] = {self.docker_socket: {"bind": SOCKET_IN_CONTAINER, "mode": "rw"}}
        return created

    def allowing(self, privileges: Collection[str], repository: str) -> SandboxPolicy:
        """This policy for a run of `repository`, which was granted `privileges`."""
        return replace(self, allowed=frozenset(privileges), repository=repository)


def image_user(client: Any, image_id: str) -> str | None:
    """The USER an image's config names, if any."""
    config = client.images.get(image_id).attrs.get("Config") or {}
    return str(config.get("User") or "") or None
