"""An environment as its stream `env-<name>` tells it: what runs, what ran, what waits.

`read_environment` folds the stream into an `EnvironmentState`: per service the
deployments shiplog was asked for (with their approvals and outcome), the stretches of
time each digest ran (`Stint`, for `requires` and soak), the pin a rollback left, and
open drift. Deployments other tools reported (DeploymentStarted … without a
DeploymentRequested) count as stints too. The fold is pure; reading is one stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from events.store import NO_STREAM, EventStore, ExpectedVersion, RecordedEvent
from events.streams import stream_name
from events.vocabulary import (
    ApprovalGranted,
    ApprovalRejected,
    Colour,
    DeploymentFailed,
    DeploymentRequested,
    DeploymentStarted,
    DeploymentSucceeded,
    DeploymentTimedOut,
    DriftDetected,
    DriftResolved,
    EnvironmentPinned,
    EnvironmentUnpinned,
    EvidenceItem,
    PromotionRefused,
    RolledBack,
    StandbyRetired,
    TrafficSwitched,
    WaiverGranted,
)

RequestStatus = Literal[
    "waiting", "started", "succeeded", "failed", "rolled_back", "refused", "rejected", "expired"
]
OPEN: tuple[RequestStatus, ...] = ("waiting", "started")
"""Statuses of a deployment that has not ended."""


@dataclass
class Approval:
    """One approval or rejection of a deployment, as recorded."""

    actor: str
    at: datetime
    image_digest: str
    evidence_sha256: str
    comment: str | None = None


@dataclass
class Request:
    """A deployment shiplog was asked for, and how far it got."""

    deployment_id: str
    service: str
    image_digest: str
    image: str
    strategy: str
    settings: str  # JSON text of ServiceSettings
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    evidence_sha256: str
    evidence: tuple[EvidenceItem, ...]
    approvals_required: int
    run_id: str | None
    from_environment: str | None
    previous_digest: str | None
    repository: str | None
    commit: str | None
    waived: tuple[str, ...] = ()
    status: RequestStatus = "waiting"
    approvals: list[Approval] = field(default_factory=list)
    rejections: list[Approval] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    reason: str | None = None

    @property
    def open(self) -> bool:
        """True while it waits or runs."""
        return self.status in OPEN


@dataclass
class Stint:
    """A stretch of time one digest ran in a service, from a deployment's or rollback's finish."""

    deployment_id: str
    image_digest: str
    since: datetime
    until: datetime | None = None
    ended_by: Literal["replaced", "rolled_back"] | None = None

    def ran_for(self, now: datetime) -> float:
        """Seconds it ran (so far)."""
        return ((self.until or now) - self.since).total_seconds()


@dataclass(frozen=True)
class Pin:
    """A service held at one digest (by a rollback, usually) until someone unpins it."""

    image_digest: str
    reason: str
    pinned_by: str
    pinned_at: datetime


@dataclass(frozen=True)
class ColourRun:
    """One colour of a blue/green or canary service, the digest it runs, and since when."""

    colour: Colour
    image_digest: str
    since: datetime


@dataclass
class ServiceState:
    """One service of an environment."""

    name: str
    requests: dict[str, Request] = field(default_factory=dict)
    stints: list[Stint] = field(default_factory=list)
    pin: Pin | None = None
    live: ColourRun | None = None  # the colour its proxy sends traffic to
    standby: ColourRun | None = None  # the previous colour, kept for an instant rollback

    @property
    def running(self) -> Stint | None:
        """What runs now, as far as the ledger knows."""
        return self.stints[-1] if self.stints and self.stints[-1].until is None else None

    def open_request(self) -> Request | None:
        """The deployment that waits or runs, if one does."""
        return next((r for r in reversed(self.requests.values()) if r.open), None)

    def find_request(self, deployment_id: str) -> Request | None:
        """The deployment with this id, if it was asked for in this service."""
        return self.requests.get(deployment_id)

    def recent_requests(self, count: int) -> list[Request]:
        """The last `count` deployments asked for, newest first."""
        return list(reversed(self.requests.values()))[:count]

    def request_of(self, digest: str) -> Request | None:
        """The newest deployment shiplog made of `digest` here that succeeded, if any."""
        done = ("succeeded", "rolled_back")
        found = [r for r in self.requests.values() if r.image_digest == digest and r.status in done]
        return found[-1] if found else None

    def earlier_digests(self) -> list[str]:
        """Digests that ran here successfully before what runs now, most recent first."""
        running = self.running.image_digest if self.running else None
        found: list[str] = []
        for stint in reversed(self.stints):
            digest = stint.image_digest
            if stint.ended_by != "rolled_back" and digest != running and digest not in found:
                found.append(digest)
        return found

    def rollback_targets(self) -> list[str]:
        """The earlier digests shiplog itself delivered here, most recent first."""
        return [d for d in self.earlier_digests() if self.request_of(d)]

    def successful_stints(self, digest: str) -> list[Stint]:
        """The stretches `digest` ran here that were not ended by a rollback."""
        return [s for s in self.stints if s.image_digest == digest and s.ended_by != "rolled_back"]


@dataclass(frozen=True)
class Waiver:
    """A gate waived for one digest by an approver, until `expires_at`."""

    image_digest: str
    policy: str
    reason: str
    granted_by: str
    granted_at: datetime
    expires_at: datetime


@dataclass
class EnvironmentState:
    """What the stream of one environment says, folded."""

    name: str
    version: int = -1  # the stream's last version; appends that decide expect it
    services: dict[str, ServiceState] = field(default_factory=dict)
    waivers: list[Waiver] = field(default_factory=list)
    drift: dict[str, DriftDetected] = field(default_factory=dict)  # open drift, by service

    @property
    def expected(self) -> ExpectedVersion:
        """The expected version of an append that decided on this state."""
        return NO_STREAM if self.version < 0 else self.version

    def service(self, name: str) -> ServiceState:
        """The service called `name` (empty if the stream never named it)."""
        return self.services.get(name) or ServiceState(name)

    def request(self, deployment_id: str) -> Request | None:
        """The deployment with this id, whichever service it is for."""
        for service in self.services.values():
            found = service.find_request(deployment_id)
            if found is not None:
                return found
        return None

    def waived(self, digest: str, now: datetime, requester: str) -> frozenset[str]:
        """The gates waived for `digest` now, by someone other than `requester`."""
        return frozenset(
            w.policy
            for w in self.waivers
            if w.image_digest == digest and w.expires_at > now and w.granted_by != requester
        )

    def apply(self, event: RecordedEvent) -> None:
        """Fold one event of the stream in."""
        self.version = event.version
        data, at = event.data, event.recorded_at
        if isinstance(data, WaiverGranted):
            self.waivers.append(
                Waiver(
                    data.image_digest,
                    data.policy,
                    data.reason,
                    event.metadata.actor,
                    at,
                    data.expires_at,
                )
            )
            return
        service_name = getattr(data, "service", None)
        if not isinstance(service_name, str):
            return
        if isinstance(data, DriftDetected):
            self.drift[service_name] = data
            return
        if isinstance(data, DriftResolved):
            self.drift.pop(service_name, None)
            return
        service = self.services.setdefault(service_name, ServiceState(service_name))
        if isinstance(data, DeploymentRequested):
            service.requests[data.deployment_id] = _request(data, event)
        elif isinstance(data, PromotionRefused):
            _end(service, data.deployment_id, "refused", at, data.reason)
        elif isinstance(data, TrafficSwitched):
            service.live = ColourRun(data.to_colour, data.image_digest, at)
            old = data.from_colour, data.from_digest
            service.standby = ColourRun(old[0], old[1], at) if old[0] and old[1] else None
        elif isinstance(data, StandbyRetired):
            if service.standby is not None and service.standby.colour == data.colour:
                service.standby = None
        elif isinstance(data, EnvironmentPinned):
            service.pin = Pin(data.image_digest, data.reason, event.metadata.actor, at)
        elif isinstance(data, EnvironmentUnpinned):
            service.pin = None
        elif isinstance(data, ApprovalGranted | ApprovalRejected):
            _decided(service, data, event.metadata.actor, at)
        elif isinstance(data, DeploymentTimedOut):
            waited = ", ".join(data.waiting_for) or "nothing"
            _end(service, data.deployment_id, "expired", at, f"timed out waiting for {waited}")
        elif isinstance(data, DeploymentStarted):
            request = service.requests.get(data.deployment_id)
            if request is not None:
                request.status, request.started_at = "started", data.started_at or at
        elif isinstance(data, DeploymentSucceeded):
            finished = data.finished_at or at
            _end(service, data.deployment_id, "succeeded", finished, None)
            _replace(service, Stint(data.deployment_id, data.image_digest, finished), "replaced")
        elif isinstance(data, DeploymentFailed):
            _end(service, data.deployment_id, "failed", data.finished_at or at, data.reason)
        elif isinstance(data, RolledBack):
            self._rolled_back(service, data, data.finished_at or at)

    def _rolled_back(self, service: ServiceState, data: RolledBack, at: datetime) -> None:
        """A rollback ends the rolled-back digest's stint, unless it never ran (failed rollout)."""
        request = service.requests.get(data.deployment_id)
        if request is not None and request.status in ("succeeded", "started"):
            request.status = "rolled_back"
        running = service.running
        if running is not None and running.image_digest == data.image_digest:
            return  # the rollout failed before it replaced anything: the old digest still runs
        _replace(service, Stint(data.deployment_id, data.image_digest, at), "rolled_back")


def _request(data: DeploymentRequested, event: RecordedEvent) -> Request:
    """A new deployment from its DeploymentRequested."""
    return Request(
        deployment_id=data.deployment_id,
        service=data.service,
        image_digest=data.image_digest,
        image=data.image,
        strategy=data.strategy,
        settings=data.settings,
        requested_by=event.metadata.actor,
        requested_at=event.recorded_at,
        expires_at=data.expires_at,
        evidence_sha256=data.evidence_sha256,
        evidence=data.evidence,
        approvals_required=data.approvals_required,
        run_id=data.run_id,
        from_environment=data.from_environment,
        previous_digest=data.previous_digest,
        repository=data.repository,
        commit=data.commit,
        waived=data.waived,
    )


def _decided(
    service: ServiceState, data: ApprovalGranted | ApprovalRejected, actor: str, at: datetime
) -> None:
    """An approval or a rejection of one of the service's deployments."""
    request = service.requests.get(data.deployment_id or "")
    if request is None or data.image_digest is None or data.evidence_sha256 is None:
        return  # version 1 approvals named a run, not a deployment
    if isinstance(data, ApprovalGranted):
        decision = Approval(actor, at, data.image_digest, data.evidence_sha256, data.comment)
        request.approvals.append(decision)
        return
    request.rejections.append(
        Approval(actor, at, data.image_digest, data.evidence_sha256, data.reason)
    )
    _end(service, data.deployment_id, "rejected", at, f"rejected by {actor}: {data.reason}")


def _end(
    service: ServiceState,
    deployment_id: str | None,
    status: RequestStatus,
    at: datetime,
    reason: str | None,
) -> None:
    """Mark a deployment ended (if shiplog was asked for it and it had not ended already)."""
    request = service.requests.get(deployment_id or "")
    if request is not None and request.open:
        request.status, request.finished_at, request.reason = status, at, reason


def _replace(service: ServiceState, stint: Stint, how: Literal["replaced", "rolled_back"]) -> None:
    """`stint` now runs; the one that ran until now ended `how`."""
    running = service.running
    if running is not None:
        running.until, running.ended_by = stint.since, how
    service.stints.append(stint)


def fold_environment(name: str, events: list[RecordedEvent]) -> EnvironmentState:
    """The state the events of `env-<name>` describe."""
    state = EnvironmentState(name)
    for event in events:
        state.apply(event)
    return state


def environment_stream(name: str) -> str:
    """The stream of an environment."""
    return stream_name("env", name)


def read_environment(store: EventStore, name: str) -> EnvironmentState:
    """The environment's state now, from its whole stream (what a snapshot must equal)."""
    return fold_environment(name, store.read_stream(environment_stream(name)))
