"""Deployments made by other tools, recorded as DeploymentStarted and its outcome.

`record_deployment` appends DeploymentStarted and, for a finished rollout,
DeploymentSucceeded or DeploymentFailed to `env-<environment>` in one transaction,
with the caller's actor in the metadata. Event ids are uuid5 of the deployment id
and the event type, so a retry is recognised: events already recorded with the
same payload are answered with their original positions and not written again;
recorded with another payload, the request is a Conflict. A rollout reported as
`started` can later be reported `succeeded` or `failed` under the same id.

The helpers below (`event_id_for`, `recorded`, `FieldProblem`, `Conflict`) are
shared with services/incidents.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from events.catalogue import Event, Metadata
from events.errors import InvalidStreamName
from events.store import ANY, EventStore
from events.streams import category, stream_name
from events.vocabulary import DeploymentFailed, DeploymentStarted, DeploymentSucceeded

SOURCE = "api"
NAMESPACE = uuid5(NAMESPACE_URL, "https://shiplog.dev/api/events-from-outside")
NO_REASON = "no reason given"

Status = Literal["started", "succeeded", "failed"]


class FieldProblem(ValueError):
    """A request field's value cannot be recorded; the route answers 422 naming it."""

    def __init__(self, field: str, message: str, value: Any = None) -> None:
        self.field = field
        self.value = value
        super().__init__(message)


class Conflict(Exception):
    """The request contradicts what the ledger already holds; the route answers 409."""


@dataclass(frozen=True)
class Recorded:
    """An event already in the ledger, as far as idempotency needs it."""

    event_id: UUID
    position: int
    stream: str
    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Deployment:
    """What a caller reports about one rollout; times default to when they are recorded."""

    environment: str
    service: str
    image_digest: str
    status: Status
    deployment_id: str
    run_id: str | None = None
    reason: str | None = None
    strategy: str = "rolling"
    repository: str | None = None
    commit: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class Written:
    """The positions of the events a request stands for, and whether it wrote any."""

    positions: list[int]
    replayed: bool


def event_id_for(key: str, event_type: type[Event]) -> UUID:
    """The deterministic id of the `event_type` event of the thing named `key`."""
    return uuid5(NAMESPACE, f"{key}\n{event_type.type_name}")


def valid_stream(category_name: str, ident: str, field: str) -> str:
    """The stream `category_name-ident`, or a FieldProblem naming `field`."""
    try:
        return stream_name(category_name, ident)
    except InvalidStreamName as error:
        raise FieldProblem(field, f"not usable as a stream id: {error}", ident) from None


def recorded(store: EventStore, ids: Sequence[UUID]) -> dict[UUID, Recorded]:
    """The events among `ids` that the ledger already holds, by id."""
    with store.connection() as conn:
        rows = conn.execute(
            "SELECT event_id, position, stream, type, data FROM events WHERE event_id = ANY(%s)",
            (list(ids),),
        ).fetchall()
    return {row[0]: Recorded(*row) for row in rows}


def payload(store: EventStore, event: Event, stream: str) -> dict[str, Any]:
    """The JSON payload the store would record for `event` in `stream`."""
    return store.catalogue.check(event, category(stream)).payload


def same_or_conflict(
    store: EventStore, stream: str, event: Event, found: Recorded, what: str
) -> None:
    """Raise Conflict unless `found` is `event` as recorded in `stream`."""
    if found.stream != stream:
        raise Conflict(f"{what} is already recorded in stream {found.stream!r}, not {stream!r}")
    if found.data != payload(store, event, stream):
        raise Conflict(
            f"{what} is already recorded with other content ({found.type} at position "
            f"{found.position}: {found.data}); the ledger is immutable, so use a new id"
        )


def planned_events(deployment: Deployment) -> list[Event]:
    """DeploymentStarted, then the outcome event the status names (if finished)."""
    if deployment.reason is not None and deployment.status != "failed":
        raise FieldProblem("reason", "a reason is recorded only for status 'failed'")
    if deployment.finished_at is not None and deployment.status == "started":
        raise FieldProblem("finished_at", "a finish time is recorded only for a finished status")
    events: list[Event] = [
        DeploymentStarted(
            deployment_id=deployment.deployment_id,
            service=deployment.service,
            image_digest=deployment.image_digest,
            strategy=deployment.strategy,
            run_id=deployment.run_id,
            started_at=deployment.started_at,
            repository=deployment.repository,
            commit=deployment.commit,
        )
    ]
    if deployment.status == "succeeded":
        events.append(
            DeploymentSucceeded(
                deployment_id=deployment.deployment_id,
                service=deployment.service,
                image_digest=deployment.image_digest,
                finished_at=deployment.finished_at,
            )
        )
    elif deployment.status == "failed":
        events.append(
            DeploymentFailed(
                deployment_id=deployment.deployment_id,
                service=deployment.service,
                reason=deployment.reason or NO_REASON,
                finished_at=deployment.finished_at,
            )
        )
    return events


def record_deployment(
    store: EventStore, deployment: Deployment, actor: str, source: str = SOURCE
) -> Written:
    """Record `deployment` in `env-<environment>` as `actor`; see the module docstring."""
    stream = valid_stream("env", deployment.environment, "environment")
    events = planned_events(deployment)
    key = deployment.deployment_id
    outcomes = (DeploymentSucceeded, DeploymentFailed)
    ids: dict[type[Event], UUID] = {
        cls: event_id_for(key, cls) for cls in (DeploymentStarted, *outcomes)
    }
    known = recorded(store, list(ids.values()))
    what = f"deployment {key!r}"
    finished = [known[ids[cls]] for cls in outcomes if ids[cls] in known]
    if finished and len(events) == 2 and finished[0].type != events[1].type_name:
        raise Conflict(
            f"{what} already finished ({finished[0].type} at position "
            f"{finished[0].position}); it cannot now be reported as {deployment.status!r}"
        )
    new: list[Event] = []
    for event in events:
        found = known.get(ids[type(event)])
        if found is None:
            new.append(event)
        else:
            same_or_conflict(store, stream, event, found, what)
    if new:
        metadata = Metadata(actor=actor, source=source)
        with store.transaction() as tx:
            tx.append(stream, new, ANY, metadata, event_ids=[ids[type(event)] for event in new])
    wanted = [ids[type(event)] for event in events]
    after = recorded(store, wanted)
    for event in new:  # a concurrent request may have recorded these ids first
        same_or_conflict(store, stream, event, after[ids[type(event)]], what)
    return Written([after[i].position for i in wanted], replayed=not new)
