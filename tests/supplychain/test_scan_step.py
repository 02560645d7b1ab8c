"""Scans end to end: the `scan` step in a run, `shiplog scan` re-scans, and the HTTP API."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings, get_settings
from app.database import Database
from app.pipeline import PipelineError, dependencies, parse_pipeline
from app.projections import projector
from app.queries.supplychain import ImageFinding, load_sbom, scan_findings
from app.server import create_app
from app.services.access import Role
from app.supplychain.sbom import sbom_digest
from events.store import EventStore
from events.vocabulary import (
    ImageBuilt,
    ImagePushed,
    RunFailed,
    SbomGenerated,
    ScanCompleted,
    StepFinished,
)
from tests.paths import PROJECT_ROOT
from tests.support.access import bearer
from tests.support.runs import (
    SHIPLOG,
    make_repo,
    of_type,
    one,
    run_events,
    run_id_in,
)
from tests.support.supplychain_samples import (
    DEBIAN_V1,
    advisories_v1,
    debian_files,
    fixed,
    images,
    osv,
    write_advisories,
)

pytestmark = pytest.mark.usefixtures("leftover_guard")  # nothing left on the engine

__all__ = ["images"]


def found(store: EventStore, event: ScanCompleted) -> list[ImageFinding]:
    """Every finding of a scan, read from the findings document it names."""
    assert event.findings_digest is not None and event.findings == ()
    return scan_findings(store, [event])[0]


def pairs(store: EventStore, event: ScanCompleted) -> set[tuple[str, str]]:
    """(advisory, package) of each finding."""
    return {(f.advisory, f.package) for f in found(store, event)}


@pytest.fixture
def osv_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The v1 advisories, as SHIPLOG_OSV_DIR for the CLI."""
    directory = write_advisories(tmp_path / "osv-v1", advisories_v1())
    monkeypatch.setenv("SHIPLOG_OSV_DIR", str(directory))
    get_settings.cache_clear()
    return directory


def test_a_scan_step_records_the_sbom_and_findings_and_fail_on_gates_the_run(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    osv_dir: Path,
    tmp_path: Path,
) -> None:
    tag = f"shiplog-test/scanned-{uuid.uuid4().hex[:10]}:1"
    pipeline = f"""\
name: scanned
steps:
  - name: build
    build:
      tags: ["{tag}"]
  - name: report
    scan:
      image: build
  - name: gate
    scan:
      image: {tag}
      fail_on: critical
    depends_on: [report]
"""
    files: dict[str, str | bytes] = {f"root/{k}": v for k, v in debian_files().items()}
    files["Dockerfile"] = "FROM shiplog/busybox:1\nCOPY root/ /\n"
    files[".shiplog.yml"] = pipeline
    repo = make_repo(tmp_path / "repo", files)
    result = cli.invoke(app, ["run", str(repo)])
    assert result.exit_code == 1, result.output
    events = run_events(store, run_id_in(result.output))
    image_id = one(events, ImageBuilt).image_id
    assert one(events, StepFinished, step="report").exit_code == 0
    assert one(events, StepFinished, step="gate").exit_code == 1
    assert one(events, RunFailed).step == "gate"
    made = of_type(events, SbomGenerated)
    assert [(e.step, e.image_digest) for e in made] == [("report", image_id), ("gate", image_id)]
    assert made[0].sbom_digest == made[1].sbom_digest  # the same image, the same bytes
    assert made[0].components == 6 and made[0].ecosystems == {"deb": 6}
    report, gate = (
        one(events, ScanCompleted, step="report"),
        one(events, ScanCompleted, step="gate"),
    )
    assert pairs(store, report) == pairs(store, gate) == DEBIAN_V1
    assert (report.fail_on, gate.fail_on) == (None, "critical")
    assert report.sbom_digest == made[0].sbom_digest
    assert report.advisories == len(advisories_v1())
    critical = [f for f in found(store, gate) if f.severity == "critical"]
    assert {f.package for f in critical} == {"libssl3", "openssl"}
    assert {(f.advisory, f.package) for f in gate.gating} == {
        (f.advisory, f.package) for f in critical
    }
    assert gate.gating_total == 2 and report.gating == () and report.gating_total == 0
    assert report.findings_total == len(DEBIAN_V1) == sum(report.severities.model_dump().values())
    assert report.findings_digest == gate.findings_digest  # the same findings, one document
    stored = load_sbom(store, made[0].sbom_digest)
    assert sbom_digest(stored.document) == made[0].sbom_digest
    assert stored.image_id == image_id
    gate_log = cli.invoke(app, ["logs", run_id_in(result.output), "gate"]).output
    assert "2 finding(s) at or above critical: DSA-0001-1" in gate_log


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (
            "    scan:\n      image: app\n      fail_on: severe\n",
            ".shiplog.yml:8:16: steps[1].scan.fail_on: 'severe' is not one of 'critical', "
            "'high', 'medium' or 'low'",
        ),
        (
            "    scan:\n      image: app\n      failon: high\n",
            ".shiplog.yml:8:7: steps[1].scan.failon: unknown key 'failon'",
        ),
        (
            "    scan:\n      image: app\n    push:\n      image: app\n",
            ".shiplog.yml:6:5: steps[1].scan: a step is one kind: it cannot have both 'push' and "
            "'scan'",
        ),
    ],
)
def test_a_bad_scan_step_is_refused_at_its_line_and_column(step: str, expected: str) -> None:
    text = "name: p\nsteps:\n  - name: build\n    build: {tags: [app]}\n  - name: scan\n" + step
    with pytest.raises(PipelineError) as caught:
        parse_pipeline(text)
    assert str(caught.value.problems[0]).startswith(expected), str(caught.value)


def test_a_scan_step_waits_for_the_build_step_it_names_which_must_come_first() -> None:
    scan = "  - name: scan\n    scan: {image: build}\n    depends_on: []\n"
    build = "  - name: build\n    build: {tags: [app]}\n    depends_on: []\n"
    with pytest.raises(PipelineError, match="built by step 'build', which comes later"):
        parse_pipeline(f"name: p\nsteps:\n{scan}{build}")
    pipeline = parse_pipeline(f"name: p\nsteps:\n{build}{scan}")
    assert dependencies(pipeline)["scan"] == frozenset({"build"})  # not in its depends_on


def test_shiplog_scan_rescans_an_old_image_from_its_stored_sbom_against_newer_advisories(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    docker_client: Any,
    images: dict[str, str],
    tmp_path: Path,
) -> None:
    older = write_advisories(
        tmp_path / "older",
        [osv("DSA-0002-1", "Debian:12", "openssl", ranges=fixed("3.0.11-1~deb12u2"))],
    )
    first = cli.invoke(app, ["scan", images["debian-tag"], "--osv-dir", str(older)])
    assert first.exit_code == 0, first.output
    assert "2 finding(s)" in first.output and "made and stored" in first.output
    docker_client.images.remove(images["debian"], force=True)  # gone from the engine
    newer = write_advisories(tmp_path / "newer", advisories_v1())
    again = cli.invoke(
        app, ["scan", images["debian"], "--osv-dir", str(newer), "--fail-on", "critical"]
    )
    assert again.exit_code == 1, again.output  # critical findings, as asked
    stream = store.read_stream(f"image-{images['debian']}")
    assert [e.type_name for e in stream] == ["SbomGenerated", "ScanCompleted", "ScanCompleted"]
    made = stream[0].data
    before, after = stream[1].data, stream[2].data
    assert isinstance(made, SbomGenerated)
    assert isinstance(before, ScanCompleted) and isinstance(after, ScanCompleted)
    assert before.sbom_digest == after.sbom_digest == made.sbom_digest
    assert before.advisory_set_digest != after.advisory_set_digest
    assert pairs(store, before) == {("DSA-0002-1", "libssl3"), ("DSA-0002-1", "openssl")}
    assert pairs(store, after) == DEBIAN_V1
    assert (before.step, after.fail_on) == (None, "critical")
    assert stream[2].metadata.source == "cli"


def shiplog(database: Database, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `shiplog` command of this checkout, run as a user would, on the test database."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(PROJECT_ROOT),  # this checkout's code, whatever is installed
        "SHIPLOG_DATABASE_URL": database.app_url,
        "SHIPLOG_HOME": str(tmp_path / "home"),
    }
    return subprocess.run(
        [str(SHIPLOG), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_shiplog_scan_without_its_advisory_folder_or_image_exits_2_and_records_nothing(
    database: Database, images: dict[str, str], tmp_path: Path
) -> None:
    nowhere = tmp_path / "nowhere"
    done = shiplog(database, tmp_path, "scan", images["debian-tag"], "--osv-dir", str(nowhere))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"shiplog: advisory {nowhere}: the advisory directory does not exist"
    )
    good = write_advisories(tmp_path / "good", advisories_v1())
    missing = shiplog(database, tmp_path, "scan", "shiplog-test/nothing:1", "--osv-dir", str(good))
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "shiplog: image shiplog-test/nothing:1 is not on this Docker engine "
        "(shiplog never pulls images)"
    )
    with psycopg.connect(database.owner_url) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM sboms").fetchone() == (0,)


def deploy(client: TestClient, environment: str, image: str, at: str) -> None:
    """Record a finished rollout of `image` to the service `web` of `environment`."""
    body = {
        "environment": environment,
        "service": "web",
        "image_digest": image,
        "status": "succeeded",
        "started_at": at,
        "finished_at": at,
    }
    assert client.post("/api/deployments", json=body).status_code == 201


def test_the_api_serves_stored_sboms_and_answers_which_images_an_advisory_or_package_hits(
    cli: CliRunner, client: TestClient, store: EventStore, osv_dir: Path, images: dict[str, str]
) -> None:
    for name in ("debian", "python", "alpine"):
        assert cli.invoke(app, ["scan", images[f"{name}-tag"]]).exit_code == 0
    debian, alpine = images["debian"], images["alpine"]
    deploy(client, "production", debian, "2024-03-01T10:00:00Z")
    deploy(client, "production", images["python"], "2024-03-02T10:00:00Z")
    deploy(client, "staging", debian, "2024-03-03T10:00:00Z")
    assert client.get("/api/affected", params={"advisory": "DSA-0001-1"}).status_code == 503
    projector(store).catch_up_all()
    sbom = client.get(f"/api/images/{debian}/sbom")
    assert sbom.status_code == 200
    assert sbom.headers["content-type"].startswith("application/vnd.cyclonedx+json")
    assert f'"{sbom_digest(sbom.content)}"' == sbom.headers["etag"]
    assert client.get(f"/api/images/sha256:{'0' * 64}/sbom").status_code == 404
    assert client.get("/api/images/latest/sbom").status_code == 422

    by_alias = client.get("/api/affected", params={"advisory": "CVE-2024-0001"}).json()["images"]
    assert [i["image_digest"] for i in by_alias] == [debian]
    assert {f["package"] for f in by_alias[0]["findings"]} == {"libssl3", "openssl"}
    assert by_alias[0]["scan_stream"] == f"image-{debian}"
    where = [
        (d["environment"], d["since"], d["until"], d["running"]) for d in by_alias[0]["deployments"]
    ]
    assert where == [
        ("production", "2024-03-01T10:00:00Z", "2024-03-02T10:00:00Z", False),
        ("staging", "2024-03-03T10:00:00Z", None, True),
    ]
    alpine_hit = client.get("/api/affected", params={"advisory": "ALPINE-CVE-2024-0001"}).json()
    assert [i["image_digest"] for i in alpine_hit["images"]] == [alpine]

    package = client.get("/api/affected", params={"purl": "pkg:deb/debian/openssl"}).json()
    assert [i["image_digest"] for i in package["images"]] == [debian]
    assert {f["advisory"] for f in package["images"][0]["findings"]} == {
        "DSA-0001-1",
        "DEBIAN-CVE-2024-0003",
    }
    other = client.get("/api/affected", params={"purl": "pkg:deb/debian/openssl@9.9"}).json()
    assert other == {"images": [], "next": None}
    pypi = client.get("/api/affected", params={"purl": "pkg:pypi/urllib3@2.0.0rc1"}).json()
    assert [i["image_digest"] for i in pypi["images"]] == [images["python"]]
    refused = client.get("/api/affected", params={"purl": "openssl"})
    assert refused.status_code == 422 and "purl" in refused.json()["detail"][0]["loc"]
    assert client.get("/api/affected").status_code == 422


def test_with_sbom_after_build_every_build_records_its_sbom_found_by_pushed_digest_too(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    busybox_image: str,
    registry: Any,
    osv_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHIPLOG_SBOM_AFTER_BUILD", "true")
    get_settings.cache_clear()
    suffix = uuid.uuid4().hex[:10]
    tag, repository = f"shiplog-test/sbom-{suffix}:1", f"{registry.address}/sbom-{suffix}"
    pipeline = f"""\
name: built
steps:
  - name: build
    build:
      tags: ["{tag}"]
  - name: push
    push:
      image: {tag}
      repository: {repository}
      tags: ["1"]
"""
    files: dict[str, str | bytes] = {f"root/{k}": v for k, v in debian_files().items()}
    files["Dockerfile"] = "FROM shiplog/busybox:1\nCOPY root/ /\n"
    files[".shiplog.yml"] = pipeline
    result = cli.invoke(app, ["run", str(make_repo(tmp_path / "repo", files))])
    assert result.exit_code == 0, result.output
    events = run_events(store, run_id_in(result.output))
    names = [e.type_name for e in events]
    assert names.index("SbomGenerated") == names.index("ImageBuilt") + 1
    made = one(events, SbomGenerated)
    assert made.step == "build" and made.image_digest == one(events, ImageBuilt).image_id
    pushed = one(events, ImagePushed).digest
    assert pushed != made.image_digest

    with TestClient(create_app(settings), headers=bearer(store, "admin", Role.ADMIN)) as client:
        deploy(client, "production", pushed, "2024-03-01T10:00:00Z")  # as a registry names it
        projector(store).catch_up_all()
        by_push = client.get(f"/api/images/{pushed}/sbom")
        by_id = client.get(f"/api/images/{made.image_digest}/sbom")
        holding = client.get("/api/affected", params={"purl": "pkg:deb/debian/openssl"}).json()
    ((image,),) = [holding["images"]]
    assert image["image_digest"] == made.image_digest
    assert [(d["environment"], d["image_digest"], d["running"]) for d in image["deployments"]] == [
        ("production", pushed, True)
    ]
    assert by_push.status_code == by_id.status_code == 200
    assert by_push.content == by_id.content
    assert sbom_digest(by_push.content) == made.sbom_digest

    rescan = cli.invoke(app, ["scan", pushed])  # from the stored SBOM
    assert rescan.exit_code == 0, rescan.output
    scanned = store.read_stream(f"image-{made.image_digest}")
    assert [e.type_name for e in scanned] == ["ScanCompleted"]  # the SBOM was not made again
    completed = scanned[0].data
    assert isinstance(completed, ScanCompleted)
    assert completed.sbom_digest == made.sbom_digest
    assert pairs(store, completed) == DEBIAN_V1


def test_thousands_of_findings_fit_one_scan_completed_and_the_document_lists_them_all(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    images: dict[str, str],
    tmp_path: Path,
) -> None:
    records = [
        {
            **osv(f"DSA-{n:04d}-1", "Debian:12", "openssl", ranges=fixed("3.0.11-1~deb12u2")),
            "database_specific": {"severity": "critical"},
        }
        for n in range(1500)
    ]
    directory = write_advisories(tmp_path / "many", records)
    result = cli.invoke(
        app, ["scan", images["debian-tag"], "--osv-dir", str(directory), "--fail-on", "low"]
    )
    assert result.exit_code == 1, result.output  # every finding is gating (critical)
    assert "3000 finding(s)" in result.output  # libssl3 and openssl, from source openssl
    (completed,) = [e.data for e in store.read_stream(f"image-{images['debian']}")][-1:]
    assert isinstance(completed, ScanCompleted)
    assert (completed.findings_total, completed.gating_total) == (3000, 3000)
    assert len(completed.gating) == 100 and completed.severities.critical == 3000
    assert len(found(store, completed)) == 3000
    with TestClient(create_app(settings), headers=bearer(store, "viewer", Role.VIEWER)) as client:
        projector(store).catch_up_all()
        answer = client.get("/api/affected", params={"advisory": "DSA-1499-1"})
    assert answer.status_code == 200, answer.text
    ((image,),) = [answer.json()["images"]]
    assert {f["package"] for f in image["findings"]} == {"libssl3", "openssl"}


def test_unreadable_advisory_records_are_skipped_logged_recorded_and_shown(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    images: dict[str, str],
    tmp_path: Path,
) -> None:
    directory = write_advisories(tmp_path / "osv", advisories_v1())
    (directory / "Alpine").mkdir(exist_ok=True)
    (directory / "Alpine" / "broken.json").write_text("{not json")
    bad_version = osv("ALPINE-X", "Alpine:v3.19", "musl", ranges=fixed("1.2.4_bogus1-r5"))
    (directory / "Alpine" / "ALPINE-X.json").write_text(json.dumps(bad_version))
    result = cli.invoke(app, ["scan", images["debian-tag"], "--osv-dir", str(directory)])
    assert result.exit_code == 0, result.output
    assert "warning: 2 advisory record(s) could not be read, skipped:" in result.output
    assert "skipped Alpine/ALPINE-X.json (ALPINE-X): field affected[0]" in result.output
    (completed,) = [e.data for e in store.read_stream(f"image-{images['debian']}")][-1:]
    assert isinstance(completed, ScanCompleted)
    assert pairs(store, completed) == DEBIAN_V1  # the scan went on
    assert completed.skipped_total == 2
    assert [(k.source, k.id) for k in completed.skipped] == [
        ("Alpine/ALPINE-X.json", "ALPINE-X"),
        ("Alpine/broken.json", None),
    ]
    assert "unknown suffix _bogus" in completed.skipped[0].reason
    with TestClient(create_app(settings), headers=bearer(store, "viewer", Role.VIEWER)) as client:
        projector(store).catch_up_all()
        page = client.get(f"/images/{images['debian']}")
    assert page.status_code == 200
    assert "2 advisory records could not be read and were skipped" in page.text
    assert "Alpine/ALPINE-X.json" in page.text and "not JSON" in page.text
