"""`shiplog reproduce`: rebuilding past images from the ledger on a real engine, and the verdicts.

Docker builds are few on purpose (2 shared CPUs): one run with two build steps
reproduced together, one run on a temporary base image that is then removed. The
refusals that need no build (secret build arguments, a dirty checkout, a wrong
target) work on a real ledger holding the events a run would have written.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.engine import push_image
from app.projections import projector
from app.projections.reproductions import ReproductionsProjection
from app.queries.reproductions import latest_reproductions
from app.reproduce.filesystem import (
    MAX_DIFFERENCE_TEXT,
    MAX_DIFFERENCES,
    file_system,
    first_differences,
)
from app.reproduce.reproducer import INTERRUPTED, Reproducer
from app.server import create_app
from app.services.access import Role
from app.services.reproductions import subjects
from events.catalogue import Metadata
from events.projections import ProjectionError, table_checksums
from events.store import NO_STREAM, EventStore
from events.vocabulary import (
    BaseImage,
    FileDifference,
    ImageBuilt,
    ImagePushed,
    ReproductionCompleted,
    ReproductionRequested,
    RunQueued,
)
from tests.support.access import bearer
from tests.support.runs import (
    BUSYBOX,
    SHIPLOG,
    example_files,
    git,
    hello_app,
    hello_pipeline,
    make_repo,
    of_type,
    run_events,
    run_id_in,
    unique_name,
)

pytestmark = pytest.mark.usefixtures("leftover_guard")  # nothing left on the engine

STAMPED = f"FROM {BUSYBOX}\nRUN date +%s%N > /build-time.txt\n"


def two_image_pipeline(name: str) -> str:
    """The hello example as step `app`, and a Dockerfile writing its build time as `stamped`."""
    return f"""\
name: repro
steps:
  - name: app
    build:
      context: .
      args:
        VERSION: "1.0.0"
      tags: ["{name}:app"]
  - name: stamped
    build:
      context: stamped
      tags: ["{name}:stamped"]
"""


def shiplog_run(cli: CliRunner, repo: Path) -> str:
    """`shiplog run REPO` here; the run id (the run must succeed)."""
    result = cli.invoke(app, ["run", str(repo)])
    assert result.exit_code == 0, result.output
    return run_id_in(result.output)


def reproduce(cli: CliRunner, *args: str) -> tuple[int, list[dict[str, Any]]]:
    """`shiplog reproduce ARGS --json`: the exit code and one object per image."""
    result = cli.invoke(app, ["reproduce", *args, "--json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    lines = [line for line in result.output.splitlines() if line.startswith("{")]
    return result.exit_code, [json.loads(line) for line in lines]


def image_exists(client: Any, reference: str) -> bool:
    try:
        client.images.get(reference)
    except docker.errors.ImageNotFound:
        return False
    return True


def test_a_run_reproduces_each_image_same_content_but_a_build_time_file_differs_alone(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    docker_client: Any,
    busybox_image: str,
    tmp_path: Path,
) -> None:
    name = unique_name("shiplog-test/repro")
    files = example_files()
    files["stamped/Dockerfile"] = STAMPED
    files[".shiplog.yml"] = two_image_pipeline(name)
    run_id = shiplog_run(cli, make_repo(tmp_path / "repo", files))
    built = {event.step: event for event in of_type(run_events(store, run_id), ImageBuilt)}

    exit_code, verdicts = reproduce(cli, run_id)

    assert exit_code == 1  # one image differs
    by_step = {verdict["step"]: verdict for verdict in verdicts}
    assert sorted(by_step) == ["app", "stamped"]
    same = by_step["app"]
    assert same["image_id"] == built["app"].image_id
    # The legacy builder stamps the build time into the image config, so a no-cache
    # rebuild is a new image id with the same files and settings.
    assert same["verdict"] in ("identical", "same-content")
    assert same["differences"] == [] and same["config_differences"] == []
    assert same["rebuilt_image_id"] is not None
    if same["verdict"] == "same-content":
        assert same["compared"] == ["config-digest", "layer-diff-ids", "settings", "files"]
        # every path of the base, and the app's own files on top of them
        assert same["files_compared"] > len(file_system(docker_client, busybox_image))
    stamped = by_step["stamped"]
    assert stamped["verdict"] == "differs"
    assert stamped["layers_identical"] is False
    assert [d["path"] for d in stamped["differences"]] == ["/build-time.txt"]
    assert stamped["differences_total"] == 1
    assert stamped["differences"][0]["change"] == "changed"
    assert "sha256" in stamped["differences"][0]["aspects"]
    assert stamped["config_differences"] == []

    # The rebuilds are gone; the step's tags still name the originals.
    for verdict in verdicts:
        if verdict["rebuilt_image_id"] != verdict["image_id"]:
            assert not image_exists(docker_client, verdict["rebuilt_image_id"])
    assert docker_client.images.get(f"{name}:app").id == built["app"].image_id
    assert docker_client.images.get(f"{name}:stamped").id == built["stamped"].image_id

    # The ledger: one repro stream per image, requested then completed.
    for verdict in verdicts:
        events = store.read_stream(f"repro-{verdict['repro_id']}")
        requested, completed = (event.data for event in events)
        assert isinstance(requested, ReproductionRequested)
        assert isinstance(completed, ReproductionCompleted)
        assert (requested.run_id, requested.step) == (run_id, verdict["step"])
        assert requested.image_id == built[verdict["step"]].image_id
        assert requested.source_date_epoch is not None
        assert completed.verdict == verdict["verdict"]
        assert all(event.metadata.correlation_id == run_id for event in events)

    # What the image page shows, once the projections have caught up.
    projector(store).catch_up_all()
    with TestClient(create_app(settings), headers=bearer(store, "admin", Role.ADMIN)) as client:
        answer = client.get(f"/api/images/{built['stamped'].image_id}/reproductions")
        assert answer.status_code == 200, answer.text
        (shown,) = answer.json()
        assert shown["verdict"] == "differs" and shown["status"] == "completed"
        assert [d["path"] for d in shown["differences"]] == ["/build-time.txt"]
        assert shown["run_id"] == run_id and shown["step"] == "stamped"
        (shown,) = client.get(f"/api/images/{built['app'].image_id}/reproductions").json()
        assert shown["verdict"] == same["verdict"]
        assert client.get("/api/images/sha256:nothex/reproductions").status_code == 422


def remove_descendants(client: Any, image_id: str) -> None:
    """Remove every image built on `image_id` (at any depth), children before parents."""
    parents = {str(i.id): str(i.attrs.get("Parent") or "") for i in client.images.list(all=True)}
    found = [image_id]
    for candidate in found:
        found += [child for child, parent in parents.items() if parent == candidate]
    for descendant in reversed(found[1:]):
        with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.NotFound):
            client.images.remove(descendant, force=True)


def base_image(client: Any, tag: str) -> Any:
    """A base image of our own on busybox (no layer of its own), tagged `tag`."""
    dockerfile = f"FROM {BUSYBOX}\nLABEL purpose=test-base\n"
    return client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)[0]


def built_on(root: Path, base: str) -> Path:
    """A repository whose one build step builds `FROM base` plus a label."""
    name = unique_name("shiplog-test/on-base")
    pipeline = f'name: on-base\nsteps:\n  - name: build\n    build:\n      tags: ["{name}:1"]\n'
    return make_repo(root, {"Dockerfile": f"FROM {base}\nLABEL app=x\n", ".shiplog.yml": pipeline})


def interrupt(line: str) -> None:
    """A log sink that stops the process as Ctrl-C would."""
    raise KeyboardInterrupt


def test_a_base_image_no_longer_on_the_engine_cannot_be_reproduced_and_says_which(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    docker_client: Any,
    busybox_image: str,
    tmp_path: Path,
) -> None:
    base_tag = f"{unique_name('shiplog-test/temp-base')}:1"
    base = base_image(docker_client, base_tag)
    try:
        run_id = shiplog_run(cli, built_on(tmp_path / "repo", base_tag))
        (built,) = of_type(run_events(store, run_id), ImageBuilt)
        assert built.base_images == (BaseImage(name=base_tag, digest=base.id),)
        # Ctrl-C during the rebuild (at its first line of output) still ends the record.
        reproducer = Reproducer(store, docker_client, settings.work_dir)
        (subject,) = subjects(store, docker_client, run_id)
        with pytest.raises(KeyboardInterrupt):
            reproducer.reproduce(subject, Metadata(actor="alice"), log=interrupt)
        (stream,) = {e.stream for e in store.read_all() if e.stream.startswith("repro-")}
        ended = store.read_stream(stream)[-1].data
        assert isinstance(ended, ReproductionCompleted)
        assert (ended.verdict, ended.reason) == ("cannot-reproduce", INTERRUPTED)
        # Then the name moves to another image: the builder would take that one.
        docker_client.images.get(BUSYBOX).tag(base_tag)
        exit_code, (moved,) = reproduce(cli, built.image_id)
        assert exit_code == 3
        assert moved["reason"].startswith(
            f"base image {base_tag} names {busybox_image} now, not the recorded "
            f"{base_tag}@{base.id}"
        )
    finally:
        # Every image built on the base goes first (the run's, and the step images the
        # interrupted rebuild left), then the tag (on the base or on busybox), then the
        # base itself if removing its children did not prune it.
        remove_descendants(docker_client, base.id)
        for reference in (base_tag, base.id):
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(reference, force=reference == base.id)
    assert not image_exists(docker_client, base.id)

    exit_code, (verdict,) = reproduce(cli, built.image_id)

    assert exit_code == 3
    assert verdict["verdict"] == "cannot-reproduce"
    assert verdict["reason"] == (
        f"base image {base_tag}@{base.id} is no longer available on this engine"
    )
    assert verdict["rebuilt_image_id"] is None and verdict["compared"] == []


def test_an_image_named_by_its_pushed_digest_is_found_through_the_push_and_rebuilt(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    docker_client: Any,
    busybox_image: str,
    registry: Any,
    tmp_path: Path,
) -> None:
    name = unique_name("shiplog-test/hello")
    repository = f"{registry.address}/{unique_name('shiplog-test/hello-pushed')}"
    repo = hello_app(tmp_path / "hello", hello_pipeline(f"{name}:1", repository, ("1",)))
    run_id = shiplog_run(cli, repo)
    events = run_events(store, run_id)
    (built,) = of_type(events, ImageBuilt)
    (pushed,) = of_type(events, ImagePushed)

    exit_code, (verdict,) = reproduce(cli, pushed.digest, "--keep")

    assert exit_code == 0, verdict
    # --keep: the rebuild stays, with exactly the labels the run recorded (and, unless it
    # is the original itself, no tag).
    rebuilt = docker_client.images.get(verdict["rebuilt_image_id"])
    assert rebuilt.labels == {**docker_client.images.get(busybox_image).labels, **built.labels}
    if rebuilt.id != built.image_id:
        assert rebuilt.tags == []
        docker_client.images.remove(rebuilt.id, force=True)
    assert (verdict["run_id"], verdict["step"]) == (run_id, "build")
    assert verdict["image_digest"] == pushed.digest
    assert verdict["image_id"] == built.image_id
    assert verdict["verdict"] in ("identical", "same-content")
    assert "manifest-digest" not in verdict["compared"]  # the rebuild is never pushed
    projector(store).catch_up_all()
    with TestClient(create_app(settings), headers=bearer(store, "admin", Role.ADMIN)) as client:
        by_digest = client.get(f"/api/images/{pushed.digest}/reproductions").json()
        by_id = client.get(f"/api/images/{built.image_id}/reproductions").json()
    assert [r["repro_id"] for r in by_digest] == [verdict["repro_id"]]
    assert by_id == by_digest


def test_a_base_recorded_by_its_registry_digest_is_found_by_that_digest_and_rebuilt(
    cli: CliRunner,
    store: EventStore,
    docker_client: Any,
    busybox_image: str,
    registry: Any,
    tmp_path: Path,
) -> None:
    repository = f"{registry.address}/{unique_name('shiplog-test/pushed-base')}"
    base = base_image(docker_client, f"{repository}:1")
    try:
        manifest = push_image(docker_client, repository, "1")
        run_id = shiplog_run(cli, built_on(tmp_path / "repo", f"{repository}:1"))
        (built,) = of_type(run_events(store, run_id), ImageBuilt)
        assert built.base_images == (BaseImage(name=f"{repository}:1", digest=manifest),)
        assert manifest != base.id

        exit_code, (verdict,) = reproduce(cli, run_id)

        assert exit_code == 0, verdict
        assert verdict["verdict"] in ("identical", "same-content")
    finally:
        remove_descendants(docker_client, base.id)
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(base.id, force=True)


def recorded_run(store: EventStore, **changes: Any) -> tuple[str, ImageBuilt]:
    """A run in the ledger as the executor records it: RunQueued and one ImageBuilt."""
    run_id = str(uuid.uuid4())
    queued = RunQueued(
        repository="file:///nowhere/repo",
        checkout=changes.pop("checkout", None),
        commit=changes.pop("commit", "0" * 40),
        ref="refs/heads/main",
        commit_time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        trigger="manual",
        pipeline_path=".shiplog.yml",
        pipeline_digest="sha256:" + "1" * 64,
        dirty=changes.pop("dirty", False),
    )
    built = ImageBuilt(
        step="build",
        image_id=changes.pop("image_id", "sha256:" + uuid.uuid4().hex * 2),
        base_images=(),
        dockerfile_sha256="2" * 64,
        context_digest="sha256:" + "3" * 64,
        build_args={},
        labels={},
        **changes,
    )
    metadata = Metadata(actor="alice", correlation_id=run_id)
    store.append(f"run-{run_id}", [queued, built], NO_STREAM, metadata)
    return run_id, built


def test_builds_that_read_secrets_and_dirty_checkouts_cannot_be_reproduced_from_the_ledger(
    store: EventStore, settings: Settings, docker_client: Any
) -> None:
    reproducer = Reproducer(store, docker_client, settings.work_dir)
    secret_run, _ = recorded_run(store, secret_args=("NPM_TOKEN",))
    mounted_run, _ = recorded_run(store, secret_mounts=("PIP_TOKEN",))
    dirty_run, _ = recorded_run(store, dirty=True)

    (secret,) = subjects(store, docker_client, secret_run)
    (mounted,) = subjects(store, docker_client, mounted_run)
    (dirty,) = subjects(store, docker_client, dirty_run)
    with_secret = reproducer.reproduce(secret, Metadata(actor="alice")).completed
    with_mount = reproducer.reproduce(mounted, Metadata(actor="alice")).completed
    from_dirty = reproducer.reproduce(dirty, Metadata(actor="alice")).completed

    assert with_secret.verdict == "cannot-reproduce"
    assert with_secret.reason == (
        "the build argument(s) NPM_TOKEN came from secrets, whose values the ledger never records"
    )
    assert (with_mount.verdict, with_mount.reason) == (
        "cannot-reproduce",
        "the build read the secret(s) PIP_TOKEN through secret mounts, whose values the ledger "
        "never records",
    )
    assert from_dirty.verdict == "cannot-reproduce"
    assert from_dirty.reason is not None and "uncommitted changes" in from_dirty.reason


def test_a_commit_gone_from_the_repository_or_a_changed_pipeline_cannot_be_reproduced(
    store: EventStore, settings: Settings, docker_client: Any, busybox_image: str, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": "name: x\nsteps: []\n"})
    commit = git(repo, "rev-parse", "HEAD")
    reproducer = Reproducer(store, docker_client, settings.work_dir)
    # The image must exist for the rebuild to be worth trying: busybox stands in for it.
    gone_run, _ = recorded_run(store, checkout=str(repo), image_id=busybox_image)
    changed_run, _ = recorded_run(store, checkout=str(repo), commit=commit, image_id=busybox_image)

    (gone,) = subjects(store, docker_client, gone_run)
    (changed,) = subjects(store, docker_client, changed_run)
    from_gone = reproducer.reproduce(gone, Metadata(actor="alice")).completed
    from_changed = reproducer.reproduce(changed, Metadata(actor="alice")).completed

    assert from_gone.verdict == "cannot-reproduce"
    assert from_gone.reason is not None
    assert from_gone.reason.startswith(f"commit {'0' * 40} cannot be checked out: ")
    assert "was it never pushed, or force-pushed away?" in from_gone.reason
    assert from_changed.verdict == "cannot-reproduce"
    assert from_changed.reason == (
        f".shiplog.yml at {commit[:12]} is not the file the run recorded"
    )
    assert list(settings.work_dir.iterdir()) == []  # the checkouts were removed


def test_a_wrong_target_is_a_one_line_user_error_with_exit_status_2(
    cli: CliRunner, store: EventStore
) -> None:
    run_id, _ = recorded_run(store)
    missing_run = str(uuid.uuid4())
    cases = {
        "not-a-digest": "shiplog: 'not-a-digest' is neither a run id (a uuid) nor an image "
        "digest (sha256:<64 hex digits>)",
        missing_run: f"shiplog: no run {missing_run} in the ledger",
        "sha256:" + "a" * 64: "shiplog: no run in the ledger built or pushed an image with the "
        f"digest sha256:{'a' * 64}",
    }
    for target, message in cases.items():
        done = subprocess.run(
            [str(SHIPLOG), "reproduce", target],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ),
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert done.stderr.strip().splitlines()[-1] == message
    result = cli.invoke(app, ["reproduce", run_id, "--step", "nope"])
    assert result.exit_code != 0
    assert str(result.exception) == (
        f"run {run_id} has no image built by a step named 'nope' (it built with: build)"
    )


def test_the_reproductions_projection_lists_newest_first_and_a_rebuild_holds_the_same_rows(
    store: EventStore,
) -> None:
    image = "sha256:" + "c" * 64
    difference = FileDifference(
        path="/build-time.txt",
        change="changed",
        aspects=("sha256",),
        original="file 0644 0:0 20 " + "d" * 64,
        rebuilt="file 0644 0:0 20 " + "e" * 64,
    )
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for repro_id, verdict in zip(ids[:2], ("same-content", "differs"), strict=True):
        requested = ReproductionRequested(
            image_digest=image, image_id=image, run_id=str(uuid.uuid4()), step="build"
        )
        completed = ReproductionCompleted(
            image_digest=image,
            image_id=image,
            verdict=verdict,  # type: ignore[arg-type]
            differences=(difference,) if verdict == "differs" else (),
        )
        store.append(f"repro-{repro_id}", [requested, completed], NO_STREAM, Metadata(actor="bob"))
    unfinished = ReproductionRequested(
        image_digest=image, image_id=image, run_id=str(uuid.uuid4()), step="build"
    )
    store.append(f"repro-{ids[2]}", [unfinished], NO_STREAM, Metadata(actor="carol"))
    folding = projector(store)
    with pytest.raises(ProjectionError):  # a projection never caught up: no answer yet
        latest_reproductions(store, image)
    folding.catch_up_all()

    shown = latest_reproductions(store, image)

    assert [r.repro_id for r in shown] == list(reversed(ids))
    assert [(r.status, r.verdict, r.actor) for r in shown] == [
        ("requested", None, "carol"),
        ("completed", "differs", "bob"),
        ("completed", "same-content", "bob"),
    ]
    assert shown[1].differences == [difference.model_dump(mode="json")]
    assert latest_reproductions(store, image, limit=1)[0].repro_id == ids[2]
    assert latest_reproductions(store, "sha256:" + "f" * 64) == []
    with store.connection() as conn:
        before = table_checksums(conn, ReproductionsProjection())
    folding.rebuild("reproductions")
    with store.connection() as conn:
        assert table_checksums(conn, ReproductionsProjection()) == before


def test_a_verdict_lists_the_first_differences_within_its_limits_and_counts_them_all() -> None:
    def changed(path: str) -> FileDifference:
        return FileDifference(
            path=path, change="changed", aspects=("sha256",), original="file a", rebuilt="file b"
        )

    many = [changed(f"/f{n:04d}") for n in range(MAX_DIFFERENCES + 100)]
    long_paths = [changed("/" + "d" * 4000 + f"/{n}") for n in range(200)]

    assert first_differences(many) == tuple(many[:MAX_DIFFERENCES])
    kept = first_differences(long_paths)
    assert 0 < len(kept) < len(long_paths) and kept == tuple(long_paths[: len(kept)])
    assert sum(len(d.path) for d in kept) <= MAX_DIFFERENCE_TEXT
