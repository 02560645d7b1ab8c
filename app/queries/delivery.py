"""Delivery questions the ledger answers directly: which deployments a run asked for, and
what shiplog delivered to an environment — who asked, who approved, on what evidence —
as of any moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.delivery.ledger import fold_environment
from app.delivery.snapshots import read_state
from events.store import Cursor, EventStore
from events.streams import stream_name
from events.vocabulary import DeploymentRequested, EvidenceItem


@dataclass(frozen=True)
class RunDeployment:
    """A deployment a run's deploy step asked for: where, and its id."""

    environment: str
    deployment_id: str


def run_deployments(store: EventStore, run_id: str) -> list[RunDeployment]:
    """The deployments the run's deploy steps asked for, in order."""
    requested = store.with_data_field([DeploymentRequested.type_name], "run_id", [run_id])
    return [
        RunDeployment(event.stream.partition("-")[2], str(event.data["deployment_id"]))
        for event in reversed(requested)
    ]


@dataclass(frozen=True)
class Delivered:
    """What runs in one service because shiplog delivered it, and on whose word."""

    service: str
    image_digest: str
    since: datetime
    deployment_id: str
    requested_by: str
    approved_by: list[str]
    evidence_sha256: str
    evidence: list[EvidenceItem]
    waived: list[str]


def delivered(store: EventStore, environment: str, as_of: Cursor | None = None) -> list[Delivered]:
    """Each service of the environment that runs a digest shiplog delivered, as of `as_of`."""
    if as_of is None:
        state = read_state(store, environment)
    else:
        # A past moment is a cursor in subscription order, which a snapshot (kept by
        # stream version) cannot be cut at: fold the stream up to it.
        events = store.read_stream(stream_name("env", environment))
        state = fold_environment(environment, [e for e in events if e.cursor <= as_of])
    found = []
    for name, service in sorted(state.services.items()):
        running = service.running
        request = service.request_of(running.image_digest) if running else None
        if running is None or request is None:
            continue
        found.append(
            Delivered(
                service=name,
                image_digest=running.image_digest,
                since=running.since,
                deployment_id=request.deployment_id,
                requested_by=request.requested_by,
                approved_by=[a.actor for a in request.approvals],
                evidence_sha256=request.evidence_sha256,
                evidence=list(request.evidence),
                waived=list(request.waived),
            )
        )
    return found
