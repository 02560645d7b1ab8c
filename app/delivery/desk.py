"""What every delivery decision works with: the environments, the ledger, evidence, the swarms.

A `Desk` is built once by whoever drives delivery (app/services for the API, the pages
and the CLI; the runner for a pipeline's deploy steps) and handed to the functions of
app/delivery/requests.py and rollout.py, so that every path decides with the same
rules from the same facts. Events it appends carry the actor given to each call.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from app.delivery.environments import DeliveryConfig, Environment
from app.delivery.evidence import EvidenceReader
from app.delivery.ledger import EnvironmentState, environment_stream
from app.delivery.orchestrator import (
    DEPLOYMENT_LABEL,
    DIGEST_LABEL,
    ENVIRONMENT_LABEL,
    ROLE_LABEL,
    SERVICE_LABEL,
    Orchestrator,
    ServiceSpec,
)
from app.delivery.snapshots import read_state
from app.pipeline.deploy import ServiceSettings
from events.catalogue import Event, Metadata
from events.store import ANY, EventStore, ExpectedVersion

SOURCE = "delivery"


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def this_process() -> str:
    """`host:pid`: who drives a deployment, when nothing names the process otherwise."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Desk:
    """The environments, the ledger, the evidence, a swarm per environment, secrets, a clock.

    The environments file is read when first needed (`config`), so that a page which
    only shows a run is not broken by a mistake in that file.
    """

    load_config: Callable[[], DeliveryConfig]
    store: EventStore
    evidence: EvidenceReader
    orchestrator_for: Callable[[Environment], Orchestrator]
    # (names, the image's source repository, the environment) -> values: secrets are scoped
    secret_values: Callable[[Sequence[str], str | None, str], Mapping[str, str]] = field(
        default=lambda names, repository, environment: {}
    )
    now: Callable[[], datetime] = utc_now
    poll_seconds: float = 1.0
    driver: str = field(default_factory=this_process)  # names this process in its leases
    heartbeat_interval: float = 5.0  # seconds between a driver's heartbeats
    heartbeat_timeout: float = 30.0  # seconds of silence after which a driver is lost

    @cached_property
    def config(self) -> DeliveryConfig:
        """The environments file, read once per desk (EnvironmentsError if it is refused)."""
        return self.load_config()

    def state(self, environment: str) -> EnvironmentState:
        """The environment's stream, folded: its snapshot and the events after it.

        A fresh object on every call, standing exactly at the stream version it was
        folded to (`version`), which is what a decision made on it appends against.
        """
        return read_state(self.store, environment)

    def record(
        self,
        environment: str,
        events: Iterable[Event],
        actor: str,
        *,
        expected: ExpectedVersion = ANY,
        correlation: str | None = None,
    ) -> None:
        """Append `events` to `env-<environment>` as `actor` (at `expected`)."""
        metadata = Metadata(actor=actor, source=SOURCE, correlation_id=correlation)
        self.store.append(environment_stream(environment), list(events), expected, metadata)


def service_name(environment: Environment, service: str, role: str | None = None) -> str:
    """The orchestrator's name of a service: `<namespace>-<service>` (and `-<role>`)."""
    base = f"{environment.namespace}-{service}"
    return f"{base}-{role}" if role else base


def settings_json(settings: ServiceSettings) -> str:
    """Settings as the JSON text DeploymentRequested records."""
    return settings.model_dump_json()


def read_settings(text: str) -> ServiceSettings:
    """Settings back from a DeploymentRequested's JSON text."""
    return ServiceSettings.model_validate_json(text)


def service_spec(
    desk: Desk,
    environment: Environment,
    service: str,
    *,
    image: str,
    settings: ServiceSettings,
    deployment_id: str,
    repository: str | None = None,
    role: str = "app",
) -> ServiceSpec:
    """The spec of one orchestrator service of `service`, labelled with where it came from."""
    digest = image.rpartition("@")[2]
    return ServiceSpec(
        name=service_name(environment, service, None if role == "app" else role),
        image=image,
        settings=settings,
        labels={
            ENVIRONMENT_LABEL: environment.name,
            SERVICE_LABEL: service,
            DEPLOYMENT_LABEL: deployment_id,
            DIGEST_LABEL: digest,
            ROLE_LABEL: role,
        },
        secrets=desk.secret_values(list(settings.secrets), repository, environment.name),
    )
