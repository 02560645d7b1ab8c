"""A realistic recorded history for the web page tests: one finished run, a deployment, an incident.

Events are appended through the EventStore (the runs' events) and the HTTP API
(deployments and incidents), logs through StepLogWriter, and the projections are
then caught up as `shiplog serve` would.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from app.executor.logs import StepLogWriter
from app.projections import projector
from events.catalogue import Metadata
from events.store import ANY, EventStore
from events.vocabulary import (
    BaseImage,
    Commit,
    CommitsPushed,
    ImageBuilt,
    ImagePushed,
    RunClaimed,
    RunSucceeded,
    StepFinished,
    StepStarted,
    TestsReported,
)
from tests.support.factories import queued

COMMIT = "c0ffee" + "1" * 34
REPOSITORY = "https://git.example/acme/web.git"  # as tests.support.factories.queued names it
IMAGE_ID = "sha256:" + "a1" * 32
DIGEST = "sha256:" + "d4" * 32
OLD_DIGEST = "sha256:" + "0e" * 32


@dataclass(frozen=True)
class History:
    """Ids of what the history holds."""

    run_id: str
    deployment_id: str


def sha(text: str) -> str:
    """Hex sha256 of `text`."""
    return hashlib.sha256(text.encode()).hexdigest()


def record_run(store: EventStore, run_id: str) -> None:
    """A finished run: build, then test and lint side by side, then push."""
    meta = Metadata(actor="alice", source="test", correlation_id=run_id)
    stream = f"run-{run_id}"

    def add(*events: object) -> None:
        store.append(stream, list(events), ANY, meta)  # type: ignore[arg-type]

    add(queued(COMMIT))
    add(RunClaimed(runner="host:1", runner_version="0.1.0"))
    add(StepStarted(step="build", image="docker:build", commands_digest="sha256:" + sha("b")))
    add(
        ImageBuilt(
            step="build",
            image_id=IMAGE_ID,
            base_images=(BaseImage(name="shiplog/busybox:1", digest="sha256:" + "bb" * 32),),
            dockerfile_sha256=sha("FROM busybox"),
            context_digest="sha256:" + sha("context"),
            build_args={},
            labels={"org.opencontainers.image.revision": COMMIT, "team": "web"},
            tags=("hello:1.0.0",),
        ),
        StepFinished(step="build", exit_code=0, duration_ms=4200, log_sha256=sha("x"), log_lines=2),
    )
    for step in ("test", "lint"):
        add(StepStarted(step=step, image=IMAGE_ID, commands_digest="sha256:" + sha(step)))
    add(
        TestsReported(
            step="test", passed=7, failed=0, skipped=1, failing=(), report_sha256=sha("junit")
        ),
        StepFinished(step="test", exit_code=0, duration_ms=2100, log_sha256=sha("t"), log_lines=1),
    )
    add(StepFinished(step="lint", exit_code=0, duration_ms=900, log_sha256=sha("l"), log_lines=0))
    add(StepStarted(step="push", image="docker:push", commands_digest="sha256:" + sha("p")))
    add(
        ImagePushed(
            step="push",
            repository="127.0.0.1:5055/acme/hello",
            tag="1.0.0",
            digest=DIGEST,
            image_id=IMAGE_ID,
        ),
        StepFinished(step="push", exit_code=0, duration_ms=700, log_sha256=sha("p"), log_lines=0),
        RunSucceeded(duration_ms=9000),
    )
    with StepLogWriter(store.conninfo, run_id, "build") as log:
        log.write("Step 1/2 : FROM shiplog/busybox:1\nSuccessfully built a1a1a1\n")


def record_history(store: EventStore, client: TestClient) -> History:
    """The run above, its image deployed to production (after an older one), an incident."""
    run_id = str(uuid.uuid4())
    record_run(store, run_id)
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    store.append(
        f"repo-{REPOSITORY}",
        [CommitsPushed(repository=REPOSITORY, ref="refs/heads/main",
                       commits=(Commit(sha=COMMIT, authored_at=two_hours_ago),))],
        ANY,
        Metadata(actor="git", source="test"),
    )  # fmt: skip
    for digest, deployment in ((OLD_DIGEST, "dep-old"), (DIGEST, "dep-new")):
        for status in ("started", "succeeded"):
            response = client.post(
                "/api/deployments",
                json={
                    "environment": "production",
                    "service": "web",
                    "image_digest": digest,
                    "status": status,
                    "deployment_id": deployment,
                    **({"repository": REPOSITORY, "commit": COMMIT} if digest == DIGEST else {}),
                },
            )
            assert response.status_code == 201, response.text
    response = client.post(
        "/api/incidents",
        json={
            "incident_id": "inc-1",
            "environment": "production",
            "service": "web",
            "summary": "checkout errors after the release",
            "caused_by_deployment": "dep-new",
        },
    )
    assert response.status_code == 201, response.text
    projector(store).catch_up_all()
    return History(run_id, "dep-new")


def record_supply_chain(store: EventStore, run_id: str) -> str:
    """An SBOM (stored) and a scan of the history's image, and a reproduction of it; its id."""
    from app.supplychain.files import ImageMetadata
    from app.supplychain.packages import Package
    from app.supplychain.sbom import build_sbom
    from app.supplychain.storage import store_sbom
    from events.vocabulary import (
        Finding,
        ReproductionCompleted,
        ReproductionRequested,
        SbomGenerated,
        ScanCompleted,
    )

    def deb(name: str, version: str, licences: tuple[str, ...]) -> Package:
        purl = f"pkg:deb/debian/{name}@{version}?distro=debian-12"
        return Package("deb", name, version, purl, "Debian:12", licenses=licences)

    packages = [deb("bash", "5.2.15-2", ("GPL-3.0-or-later",)),
                deb("zlib1g", "1.2.13", ("Zlib",)), deb("tzdata", "2024a", ())]  # fmt: skip
    sbom = build_sbom(ImageMetadata(IMAGE_ID, "2026-01-01T00:00:00Z"), packages)
    with store.connection() as conn:
        store_sbom(conn, sbom, packages)
    meta = Metadata(actor="alice", source="test", correlation_id=run_id)
    finding = Finding(advisory="DSA-1", aliases=("CVE-2026-1",), package="bash",
                      installed_version="5.2.15-2", fixed_version="5.2.15-3", severity="high",
                      ecosystem="Debian:12", purl=packages[0].purl)  # fmt: skip
    store.append(f"run-{run_id}", [
        SbomGenerated(step="scan", image_digest=IMAGE_ID, sbom_digest=sbom.digest,
                      components=3, ecosystems={"deb": 3}),
        ScanCompleted(step="scan", image_digest=IMAGE_ID, sbom_digest=sbom.digest,
                      advisory_set_digest="sha256:" + sha("advisories"), advisories=12,
                      findings=(finding, finding.model_copy(update={"advisory": "DSA-2",
                                "aliases": (), "fixed_version": None, "severity": None}))),
    ], ANY, meta)  # fmt: skip
    repro_id = str(uuid.uuid4())
    store.append(f"repro-{repro_id}", [
        ReproductionRequested(image_digest=DIGEST, image_id=IMAGE_ID, run_id=run_id, step="build"),
        ReproductionCompleted(image_digest=DIGEST, image_id=IMAGE_ID, verdict="same-content",
                              rebuilt_image_id="sha256:" + "b2" * 32, layers_identical=False,
                              compared=("config-digest", "files"), files_compared=40),
    ], ANY, Metadata(actor="carol", source="test"))  # fmt: skip
    return repro_id
