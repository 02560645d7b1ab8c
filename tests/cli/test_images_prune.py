"""`shiplog images prune`: built images nothing needs leave the engine; the ledger keeps them.

Pruning removes every image a shiplog run built that nothing needs, whoever's run it
was, so it runs here on a Docker engine of the test's own (tests/support/engines.py),
never on the engine other suites share.

Four images on the real engine: one an environment runs, one a recent run built, one
an old run built that nothing needs, and one shiplog did not build. Only the third is
removed; ImagesPruned records it; no other event changes.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import docker.errors
import pytest
from typer.testing import CliRunner

from app.cli import app
from app.projections import projector
from app.services.images import engine_stream, prune_images
from events.catalogue import Metadata
from events.store import ANY, NO_STREAM, EventStore
from events.vocabulary import DeploymentStarted, DeploymentSucceeded, ImageBuilt, ImagesPruned
from tests.support.engines import PrivateEngine, start_private_engine
from tests.support.factories import queued

META = Metadata(actor="alice", source="test")


@pytest.fixture(scope="module")
def engine() -> Iterator[tuple[PrivateEngine, str]]:
    """A private dockerd with the busybox image: (engine, busybox image id)."""
    private, busybox = start_private_engine()
    yield private, busybox
    private.close()


@pytest.fixture
def docker_client(engine: tuple[PrivateEngine, str]) -> Iterator[Any]:
    """A client of the private engine (this module never uses the shared one)."""
    client = engine[0].client()
    yield client
    client.close()


@pytest.fixture
def made(docker_client: Any, engine: tuple[PrivateEngine, str]) -> Iterator[dict[str, str]]:
    """Four small images with distinct ids, three labelled as built by a shiplog run."""
    busybox_image = engine[1]
    images: dict[str, str] = {}
    for name, labelled in (("deployed", True), ("recent", True), ("old", True), ("other", False)):
        labels = {"io.shiplog.test": name}
        if labelled:
            labels["dev.shiplog.run"] = str(uuid.uuid4())
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as tar:
            text = f"FROM {busybox_image}\nRUN echo {uuid.uuid4()} > /id\n".encode()
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
        context.seek(0)
        image, _ = docker_client.images.build(
            fileobj=context, custom_context=True, labels=labels, tag=f"shiplog-prune/{name}:1"
        )
        images[name] = image.id
    yield images
    for image_id in images.values():
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(image_id, force=True)


def built(image_id: str) -> ImageBuilt:
    return ImageBuilt(
        step="build", image_id=image_id, base_images=(), dockerfile_sha256="0" * 64,
        context_digest="sha256:" + "0" * 64, build_args={}, labels={}, tags=(),
    )  # fmt: skip


def test_prune_removes_only_built_images_nothing_needs_and_records_it(
    store: EventStore,
    docker_client: Any,
    engine: tuple[PrivateEngine, str],
    made: dict[str, str],
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("deployed", "recent", "old"):
        store.append(f"run-{uuid.uuid4()}", [queued(), built(made[name])], NO_STREAM, META)
    store.append(
        "env-production",
        [
            DeploymentStarted(deployment_id="d1", service="web", image_digest=made["deployed"]),
            DeploymentSucceeded(deployment_id="d1", service="web", image_digest=made["deployed"]),
        ],
        ANY,
        META,
    )
    projector(store).catch_up_all()
    events_before = len(store.read_all(limit=10_000))
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    first = prune_images(store, docker_client, recent_since=hour_ago, actor=META)
    assert first.removed == ()  # every run built its image within the hour: all kept
    assert first.kept_in_use >= 3
    later = datetime.now(UTC) + timedelta(seconds=1)  # as if those runs were long ago
    second = prune_images(store, docker_client, recent_since=later, actor=META)
    assert made["old"] in second.removed and made["recent"] in second.removed
    assert made["deployed"] not in second.removed  # production runs it
    present = {image.id for image in docker_client.images.list()}
    assert made["deployed"] in present and made["other"] in present  # never shiplog's to remove
    assert made["old"] not in present and made["recent"] not in present
    pruned = [e for e in store.read_stream(engine_stream()) if isinstance(e.data, ImagesPruned)]
    assert pruned[-1].data == second
    assert len(store.read_all(limit=10_000)) == events_before + 2  # two ImagesPruned, nothing else

    monkeypatch.setenv("DOCKER_HOST", engine[0].url)  # the CLI prunes the private engine
    said = cli.invoke(app, ["images", "prune", "--keep-recent", "7d"])
    assert said.exit_code == 0, said.output
    assert said.output.startswith("removed 0 images; kept ")
    bad = cli.invoke(app, ["images", "prune", "--keep-recent", "soon"])
    assert bad.exit_code != 0 and "--keep-recent 'soon'" in str(bad.exception)
