"""A year of realistic delivery history, written through the real EventStore, with its own record.

`generate(seed)` simulates several services: commits pushed to their
repositories every working day, staging and production rollouts several times a
week, failed rollouts, rollbacks and incidents caused by rollouts. It returns
the events in the order they happened (each with its time) and a plain record of
what it generated (`History`), from which tests compute the expected figures
with their own code, never through shiplog's. `write(store, events)` appends the
events through EventStore in transactions of a few hundred.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from events.catalogue import Event, Metadata
from events.store import ANY, Cursor, EventStore
from events.vocabulary import (
    Commit,
    CommitsPushed,
    DeploymentFailed,
    DeploymentStarted,
    DeploymentSucceeded,
    IncidentOpened,
    IncidentResolved,
    RolledBack,
)

START = datetime(2025, 11, 24, tzinfo=UTC)  # a Monday
DAYS = 364
SERVICES = ("web", "api", "worker")
ENVIRONMENTS = ("staging", "production")
ACTORS = ("alice@example.com", "bob@example.com", "ci:deploy-bot")


@dataclass
class PlannedCommit:
    """One commit: its sha, author time and when it was pushed."""

    sha: str
    authored_at: datetime
    pushed_at: datetime


@dataclass
class PlannedDeployment:
    """One rollout as generated: what, where, when, who, and everything that followed it."""

    deployment_id: str
    service: str
    environment: str
    repository: str
    commit: str
    image_digest: str
    actor: str
    started_at: datetime
    finished_at: datetime
    outcome: str  # succeeded | failed
    rolled_back_at: datetime | None = None
    incident_opened_at: datetime | None = None
    incident_resolved_at: datetime | None = None


@dataclass
class History:
    """What was generated: each repository's commits in push order, and every rollout."""

    commits: dict[str, list[PlannedCommit]] = field(default_factory=dict)
    deployments: list[PlannedDeployment] = field(default_factory=list)


@dataclass(frozen=True)
class Timed:
    """An event to append, the time it stands for, its stream and its actor."""

    at: datetime
    stream: str
    event: Event
    actor: str


def repository(service: str) -> str:
    """The repository a service is built from."""
    return f"acme/{service}"


def generate(seed: int = 4, services: Sequence[str] = SERVICES) -> tuple[History, list[Timed]]:
    """A year of history for `services`; the events sorted by the time they stand for."""
    rng = random.Random(seed)
    history = History()
    events: list[Timed] = []
    incident_number = 0
    for service in services:
        repo = repository(service)
        commits: list[PlannedCommit] = history.commits.setdefault(repo, [])
        for day in range(DAYS):
            midnight = START + timedelta(days=day)
            if midnight.weekday() >= 5:
                continue
            # Two to four pushes a working day, one to three commits each.
            for hour in sorted(rng.sample(range(8, 19), rng.randint(2, 4))):
                pushed = midnight + timedelta(hours=hour, minutes=rng.randint(0, 59))
                batch = []
                for _ in range(rng.randint(1, 3)):
                    authored = pushed - timedelta(minutes=rng.randint(5, 60 * 30))
                    sha = f"{rng.getrandbits(160):040x}"
                    batch.append(PlannedCommit(sha, authored, pushed))
                commits.extend(batch)
                pushed_event = CommitsPushed(
                    repository=repo,
                    ref="refs/heads/main",
                    commits=tuple(Commit(sha=c.sha, authored_at=c.authored_at) for c in batch),
                )
                events.append(Timed(pushed, f"repo-{repo}", pushed_event, "webhook"))
            # Rollouts: staging most days, production two days in three.
            for environment, chance in (("staging", 0.8), ("production", 0.67)):
                if rng.random() > chance:
                    continue
                started = midnight + timedelta(hours=rng.choice((11, 14, 17, 20)))
                head = [c for c in commits if c.pushed_at <= started]
                if not head:
                    continue
                incident_number = _deployment(
                    rng, history, events, service, environment, head[-1], started, incident_number
                )
    events.sort(key=lambda t: t.at)
    return history, events


def _deployment(
    rng: random.Random,
    history: History,
    events: list[Timed],
    service: str,
    environment: str,
    commit: PlannedCommit,
    started: datetime,
    incident_number: int,
) -> int:
    """Plan one rollout of `commit` and what follows it; the next incident number."""
    ident = f"{service}-{environment}-{len(history.deployments)}"
    digest = "sha256:" + f"{rng.getrandbits(256):064x}"
    finished = started + timedelta(minutes=rng.randint(2, 25))
    roll = rng.random()
    outcome = "failed" if roll < 0.08 else "succeeded"
    planned = PlannedDeployment(
        ident, service, environment, repository(service), commit.sha, digest,
        rng.choice(ACTORS), started, finished, outcome,
    )  # fmt: skip
    history.deployments.append(planned)
    stream = f"env-{environment}"
    events.append(
        Timed(
            started,
            stream,
            DeploymentStarted(
                deployment_id=ident,
                service=service,
                image_digest=digest,
                started_at=started,
                repository=planned.repository,
                commit=commit.sha,
            ),
            planned.actor,
        )
    )
    if outcome == "failed":
        failed = DeploymentFailed(
            deployment_id=ident, service=service, reason="health check", finished_at=finished
        )
        events.append(Timed(finished, stream, failed, planned.actor))
        return incident_number
    succeeded = DeploymentSucceeded(
        deployment_id=ident, service=service, image_digest=digest, finished_at=finished
    )
    events.append(Timed(finished, stream, succeeded, planned.actor))
    if roll < 0.13:  # rolled back after a while, to the image it replaced
        planned.rolled_back_at = finished + timedelta(minutes=rng.randint(3, 180))
        back = RolledBack(
            deployment_id=ident, service=service, image_digest=_previous_digest(history, planned),
            reason="error rate", finished_at=planned.rolled_back_at,
        )  # fmt: skip
        events.append(Timed(planned.rolled_back_at, stream, back, "ci:deploy-bot"))
    elif roll < 0.18:  # caused an incident
        incident_number += 1
        planned.incident_opened_at = finished + timedelta(minutes=rng.randint(5, 600))
        planned.incident_resolved_at = planned.incident_opened_at + timedelta(
            minutes=rng.randint(20, 60 * 72)
        )
        incident = f"incident-inc-{incident_number}"
        opened = IncidentOpened(
            environment=environment, service=service, summary="errors after rollout",
            caused_by_deployment=ident, opened_at=planned.incident_opened_at,
        )  # fmt: skip
        resolved = IncidentResolved(resolution="fixed", resolved_at=planned.incident_resolved_at)
        events.append(Timed(planned.incident_opened_at, incident, opened, "pager"))
        events.append(Timed(planned.incident_resolved_at, incident, resolved, "pager"))
    return incident_number


def _previous_digest(history: History, planned: PlannedDeployment) -> str:
    """The image the service ran before `planned`: its previous successful rollout's."""
    for earlier in reversed(history.deployments[:-1]):
        same = (earlier.service, earlier.environment) == (planned.service, planned.environment)
        if same and earlier.outcome == "succeeded" and earlier.rolled_back_at is None:
            return earlier.image_digest
    return "sha256:" + "0" * 64


def write(store: EventStore, events: Iterable[Timed], batch: int = 300) -> Cursor:
    """Append `events` in order, `batch` per transaction; the cursor of the last one."""
    for chunk in _chunks(list(events), batch):
        with store.transaction() as tx:
            for timed in chunk:
                tx.append(timed.stream, [timed.event], ANY, Metadata(actor=timed.actor))
    with store.connection() as conn:
        row = conn.execute(
            "SELECT tx_id, position FROM events ORDER BY tx_id DESC, position DESC LIMIT 1"
        ).fetchone()
    assert row is not None
    return Cursor(int(row[0]), int(row[1]))


def _chunks(items: list[Timed], size: int) -> Iterator[list[Timed]]:
    """`items` in consecutive lists of `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
