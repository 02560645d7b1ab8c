"""The dora projection's folded deployments give the report the former fold's answers.

A generated year (pushes, rollouts, failures, rollbacks, incidents) plus the shapes
the fold distinguishes: deployments that name only their run or only their image
(commits resolved through the runs projection, times through the images
projection), outcomes and rollbacks recorded before their start, a deployment
rolled back twice, incidents resolved before they were recorded as opened, a
rollout still running, and events appended late, out of time order, in
interleaved transactions. Folded live in small batches, the live report (read from
the dora projection) must equal the report as of the ledger's head (folded from the
deployments projection's histories, the former way), for several windows, and again
after the dora projection is rebuilt.
"""

from __future__ import annotations

import random
from datetime import timedelta

from app.projections import projector
from app.queries import deployments as q
from app.queries.dora import DORA, DORA_FIELDS, folded_deployments
from app.queries.velocity import window_report
from app.velocity.metrics import Window
from app.velocity.records import Deployment
from events.catalogue import Event, Metadata
from events.projections import table_checksums
from events.store import ANY, START, EventStore
from events.vocabulary import (
    BaseImage,
    DeploymentFailed,
    DeploymentStarted,
    DeploymentSucceeded,
    ImageBuilt,
    ImagePushed,
    IncidentOpened,
    IncidentResolved,
    RolledBack,
    RunQueued,
)
from tests.support.velocity_history import START as YEAR_START
from tests.support.velocity_history import Timed, generate

PRODUCTION = ("production", "production-eu")
CLONE = "https://git.example/acme/{}.git"


def run_events(n: int, service: str, at_hours: int) -> list[Event]:
    """A run of `service`'s repository that built and pushed image number `n`."""
    moment = YEAR_START + timedelta(hours=at_hours)
    return [
        RunQueued(
            repository=CLONE.format(service), commit=f"{n:040x}", ref="refs/heads/main",
            commit_time=moment - timedelta(hours=3), trigger="push",
            pipeline_path=".shiplog.yml", pipeline_digest="sha256:" + "c" * 64,
        ),
        ImageBuilt(
            step="build", image_id=f"sha256:{n:064x}",
            base_images=(BaseImage(name="debian:12", digest="sha256:" + "b" * 64),),
            dockerfile_sha256="e" * 64, context_digest="sha256:" + "f" * 64,
            build_args={}, labels={},
        ),
        ImagePushed(
            step="push", repository=f"registry.example/acme/{service}", tag=str(n),
            digest=f"sha256:e{n:063x}", image_id=f"sha256:{n:064x}",
        ),
    ]  # fmt: skip


def odd_shapes(chance: random.Random) -> list[tuple[str, list[Event]]]:
    """Deployments and incidents of every shape the fold distinguishes, as (stream, events)."""
    found: list[tuple[str, list[Event]]] = []
    for n in range(1, 40):
        service = ("web", "api")[n % 2]
        env = PRODUCTION[n % 2]
        at = YEAR_START + timedelta(days=3 * n, hours=n % 7)
        found.append((f"run-{n}", run_events(n, service, 72 * n)))
        ident = f"odd-{n}"
        shape = n % 5
        started = DeploymentStarted(
            deployment_id=ident, service=service,
            image_digest=f"sha256:e{n:063x}" if shape != 1 else f"sha256:{n:064x}",
            run_id=str(n) if shape == 0 else None, started_at=at,
            repository=CLONE.format(service) if shape == 2 else None,
        )  # fmt: skip
        finished = at + timedelta(minutes=10 + n)
        outcome: Event = (
            DeploymentFailed(deployment_id=ident, service=service, reason="probe",
                             finished_at=finished)
            if n % 4 == 0
            else DeploymentSucceeded(deployment_id=ident, service=service,
                                     image_digest=f"sha256:e{n:063x}", finished_at=finished)
        )  # fmt: skip
        events: list[Event] = [outcome, started] if shape == 3 else [started, outcome]
        if n % 6 == 0:
            for minutes, reason in ((30, None), (50, "again")):
                events.append(
                    RolledBack(deployment_id=ident, service=service,
                               image_digest="sha256:" + "0" * 64, reason=reason,
                               finished_at=finished + timedelta(minutes=minutes))
                )  # fmt: skip
        if n == 13:
            events = [started]  # still running
        found.append((f"env-{env}", events))
        if n % 7 == 0:
            opened = IncidentOpened(
                environment=env, service=service, summary="errors", caused_by_deployment=ident,
                opened_at=finished + timedelta(hours=1),
            )  # fmt: skip
            resolved = IncidentResolved(
                resolution="fixed", resolved_at=finished + timedelta(hours=5)
            )
            found.append((f"incident-odd-{n}", [resolved, opened] if n % 2 else [opened]))
    chance.shuffle(found)
    return found


def write_history(store: EventStore, seed: int) -> None:
    """The generated year of two services, a tenth of it appended late, then the odd shapes."""
    chance = random.Random(seed)
    _, timed = generate(seed, services=("web", "api"))
    timed = [
        Timed(t.at, t.stream.replace("env-staging", "env-production-eu"), t.event, t.actor)
        for t in timed
    ]
    late = [t for t in timed if chance.random() < 0.1]
    on_time = [t for t in timed if t not in late]
    for group in (on_time, sorted(late, key=lambda _: chance.random())):
        for start in range(0, len(group), 40):
            with store.transaction() as tx:
                for t in group[start : start + 40]:
                    tx.append(t.stream, [t.event], ANY, Metadata(actor=t.actor))
    for stream, events in odd_shapes(chance):
        for event in events:  # one transaction each: the odd orders stay in the ledger
            store.append(stream, [event], ANY, Metadata(actor="deployer@example.com"))


def dora_view(deployment: Deployment) -> tuple[object, ...]:
    """What the DORA metrics read of a deployment."""
    return (
        *(getattr(deployment, name) for name in DORA_FIELDS),
        deployment.outcome_cursor,
        deployment.succeeded,
    )


def reports_agree(store: EventStore) -> None:
    """The live report (dora projection) equals the one folded as of the head, per window."""
    head = store.read_all(START, 100_000)[-1].cursor
    windows = [
        Window(YEAR_START, YEAR_START + timedelta(days=365)),
        Window(YEAR_START + timedelta(days=40), YEAR_START + timedelta(days=130)),
        Window(YEAR_START + timedelta(days=100, hours=5), YEAR_START + timedelta(days=101)),
    ]
    with store.connection() as conn:
        for window in windows:
            for environment, service in ((None, None), ("production-eu", None), (None, "web")):
                live = window_report(conn, window, PRODUCTION, environment=environment,
                                     service=service)  # fmt: skip
                former = window_report(conn, window, PRODUCTION, environment=environment,
                                       service=service, as_of=head)  # fmt: skip
                assert live.groups == former.groups, (window, environment, service)


def test_folded_deployments_are_the_records_the_former_fold_makes(store: EventStore) -> None:
    write_history(store, seed=21)
    projector(store).catch_up_all(batch=7)
    with store.connection() as conn:
        spelled: set[str] = set()
        folded = folded_deployments(conn, PRODUCTION, None, spelled)
        former_spelled: set[str] = set()
        former = q.load(conn, environments=PRODUCTION, spellings=former_spelled)
        assert [dora_view(d) for d in folded.deployments] == [dora_view(d) for d in former]
        assert spelled == former_spelled
        by_id = {i.incident_id: i for i in q.incidents(conn)}
        assert {i.incident_id: i for i in folded.incidents} == by_id
        times = q.commit_times(conn, former)
        delivered = {(d.repository, d.commit) for d in former if d.succeeded}
        assert folded.commit_times == {k: v for k, v in times.items() if k in delivered}
    assert any(d.rolled_back_at is not None for d in former)
    assert any(d.outcome is None for d in former)
    assert folded.commit_times  # some lead times are timed from a run's commit time
    assert any(d.deployment_id.startswith("odd-") and d.commit for d in former)


def test_live_report_equals_the_former_fold_and_survives_a_rebuild(store: EventStore) -> None:
    write_history(store, seed=8)
    folding = projector(store)
    folding.catch_up_all(batch=5)
    reports_agree(store)
    with store.connection() as conn:
        live = table_checksums(conn, DORA)
    folding.rebuild("dora")
    with store.connection() as conn:
        assert table_checksums(conn, DORA) == live
    reports_agree(store)
