"""The Docker engine boundary against a real engine, a real registry and real busybox."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from app.engine import (
    BaseImageError,
    EngineUnavailable,
    LocalRegistry,
    PushFailed,
    busybox_image_archive,
    connect,
    engine_version,
    ensure_busybox_image,
    push_image,
)
from app.engine.base_images import BUSYBOX, CREATED, DEFAULT_BUSYBOX_TAG
from tests.support.servers import docker_missing

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def static_busybox() -> Path:
    if not BUSYBOX.is_file():
        docker_missing(f"{BUSYBOX} not found: apt-get install busybox-static")
    return BUSYBOX


def test_connect_to_a_missing_socket_raises_engine_unavailable_naming_ensure_docker() -> None:
    with pytest.raises(EngineUnavailable) as raised:
        connect("unix:///nonexistent.sock")
    message = str(raised.value)
    assert "unix:///nonexistent.sock" in message
    assert "scripts/ensure-docker" in message


def test_engine_version_is_the_server_version(docker_client: Any) -> None:
    version = engine_version(docker_client)
    assert version == docker_client.version()["Version"]
    assert version.split(".")[0].isdigit()


def test_busybox_image_runs_sh_c_echo_hi(
    docker_client: Any, busybox_image: str, run_label: dict[str, str]
) -> None:
    output = docker_client.containers.run(
        busybox_image, ["sh", "-c", "echo hi"], remove=True, labels=run_label
    )
    assert output == b"hi\n"


def test_busybox_image_has_applets_passwd_writable_tmp_and_oci_labels(
    docker_client: Any, busybox_image: str, run_label: dict[str, str]
) -> None:
    script = (
        "printf abc | sha256sum; cat /etc/passwd | head -1; id -un; echo ok > /tmp/x; cat /tmp/x"
    )
    output = docker_client.containers.run(
        busybox_image, ["sh", "-c", script], remove=True, labels=run_label
    )
    assert output.decode().splitlines() == [
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -",
        "root:x:0:0:root:/root:/bin/sh",
        "root",
        "ok",
    ]
    attrs = docker_client.images.get(busybox_image).attrs
    labels = attrs["Config"]["Labels"]
    assert labels["org.opencontainers.image.title"] == "shiplog busybox base"
    assert labels["org.opencontainers.image.version"].startswith("1.")
    assert DEFAULT_BUSYBOX_TAG in attrs["RepoTags"]


def test_busybox_archive_assembled_twice_is_byte_identical(static_busybox: Path) -> None:
    first = busybox_image_archive(busybox=static_busybox)
    second = busybox_image_archive(busybox=static_busybox)
    assert first.archive == second.archive
    assert first.image_id == second.image_id


def test_engine_gives_the_busybox_image_the_id_computed_from_its_config(
    docker_client: Any, busybox_image: str
) -> None:
    assert busybox_image == busybox_image_archive().image_id
    assert docker_client.images.get(busybox_image).attrs["Created"] == CREATED


def test_busybox_image_id_is_known_before_loading_and_the_same_under_any_tag(
    docker_client: Any, busybox_image: str
) -> None:
    # Removing the shared image to rebuild it would break every image built on it
    # (the engine refuses: 409), so compare a fresh build's id with the loaded one.
    assert busybox_image_archive().image_id == busybox_image
    other_tag = f"shiplog/busybox:check-{uuid.uuid4().hex[:8]}"
    try:
        assert ensure_busybox_image(docker_client, tag=other_tag) == busybox_image
    finally:
        docker_client.images.remove(other_tag)
    assert ensure_busybox_image(docker_client) == busybox_image  # present: a no-op


def test_busybox_image_refuses_missing_non_elf_and_dynamically_linked_binaries(
    tmp_path: Path,
) -> None:
    with pytest.raises(BaseImageError, match=r"not found.*busybox-static"):
        busybox_image_archive(busybox=tmp_path / "busybox")

    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(BaseImageError, match="not an ELF"):
        busybox_image_archive(busybox=script)

    python = Path(os.path.realpath(sys.executable))  # Debian's python3 is dynamically linked
    with pytest.raises(BaseImageError, match="dynamically linked"):
        busybox_image_archive(busybox=python)


def test_pushed_image_digest_equals_registry_digest_and_repo_digest_and_pulls_by_digest(
    docker_client: Any, busybox_image: str, registry: LocalRegistry, run_label: dict[str, str]
) -> None:
    payload = f"payload-{uuid.uuid4().hex}"
    repo, tag = "shiplog-test/engine", uuid.uuid4().hex[:12]
    reference = f"{registry.address}/{repo}"
    writer = docker_client.containers.run(
        busybox_image, ["sh", "-c", f"echo {payload} > /payload"], detach=True, labels=run_label
    )
    assert writer.wait()["StatusCode"] == 0
    image = writer.commit(repository=reference, tag=tag)
    try:
        pushed = push_image(docker_client, reference, tag)

        assert registry.manifest_digest(repo, tag) == pushed
        repo_digests = docker_client.images.get(image.id).attrs["RepoDigests"]
        assert repo_digests == [f"{reference}@{pushed}"]

        docker_client.images.remove(image.id, force=True)
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(image.id)

        pulled = docker_client.images.pull(f"{reference}@{pushed}")
        assert pulled.id == image.id
        output = docker_client.containers.run(
            f"{reference}@{pushed}", ["cat", "/payload"], remove=True, labels=run_label
        )
        assert output.decode() == f"{payload}\n"
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(image.id, force=True)


def test_registry_manifest_digest_of_an_unknown_tag_raises_lookup_error(
    registry: LocalRegistry,
) -> None:
    assert registry.address.startswith("127.0.0.1:")
    with pytest.raises(LookupError, match="not in the registry"):
        registry.manifest_digest("shiplog-test/none", "missing")


def test_push_image_raises_push_failed_when_the_registry_is_gone(
    docker_client: Any, busybox_image: str
) -> None:
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    reference = f"{address}/shiplog-test/gone"
    docker_client.images.get(busybox_image).tag(reference, "v1")
    try:
        with pytest.raises(PushFailed, match=f"push of {reference}:v1 failed"):
            push_image(docker_client, reference, "v1")
    finally:
        docker_client.images.remove(f"{reference}:v1")


def test_local_registry_stop_deletes_its_storage_and_stops_answering(
    registry: LocalRegistry,
) -> None:
    with LocalRegistry() as local:
        root = local.log_path.parent
        url = f"{local.url}/v2/"
        with NO_PROXY.open(url, timeout=5) as response:
            assert response.status == 200
    assert not root.exists()
    with pytest.raises(urllib.error.URLError):
        NO_PROXY.open(url, timeout=5)
