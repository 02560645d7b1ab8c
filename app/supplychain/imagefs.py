"""Read an image's file system through the Docker engine: the one module here that uses Docker.

A container is created from the image (never started), its file system exported
as one tar stream and walked once; only the files `files.wanted` names are kept.
The container is always removed. This reads any path in one pass (site-packages
and node_modules can be anywhere) without unpacking anything to disk.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
from collections.abc import Iterable, Iterator
from typing import Any

import docker.errors

from app.supplychain.files import MAX_FILE, ImageFacts, ImageFiles, wanted

PLACEHOLDER_COMMAND = ["/shiplog-inventory-never-runs"]
"""The created container is never started; a command is given for images that have none."""


class ImageUnavailable(LookupError):
    """The image is not on the engine, or the engine refused to read it."""


class _ChunkReader(io.RawIOBase):
    """A file-like object over an iterator of byte chunks, for tarfile's stream mode."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def image_facts(client: Any, ref: str) -> ImageFacts:
    """The id, creation time, labels and platform of a local image (never pulled)."""
    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        raise ImageUnavailable(
            f"image {ref} is not on this Docker engine (shiplog never pulls images)"
        ) from None
    except docker.errors.APIError as error:
        raise ImageUnavailable(
            f"cannot inspect image {ref}: {error.explanation or error}"
        ) from None
    attrs = image.attrs
    config = attrs.get("Config") or {}
    return ImageFacts(
        image_id=str(image.id),
        created=str(attrs.get("Created") or ""),
        labels=dict(config.get("Labels") or {}),
        architecture=attrs.get("Architecture"),
        os=attrs.get("Os"),
    )


def read_image_files(
    client: Any, image_id: str, labels: dict[str, str] | None = None
) -> ImageFiles:
    """The inventory's files of image `image_id`, from one export of a created container."""
    try:
        container = client.containers.create(
            image_id, command=PLACEHOLDER_COMMAND, labels=labels or {}, network_disabled=True
        )
    except docker.errors.APIError as error:
        raise ImageUnavailable(
            f"cannot create a container of {image_id}: {error.explanation or error}"
        ) from None
    try:
        return walk_tar(container.export(chunk_size=1024 * 1024))
    finally:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True, v=True)


def walk_tar(chunks: Iterable[bytes]) -> ImageFiles:
    """Keep the wanted regular files and symlinks of a tar stream."""
    found = ImageFiles()
    with tarfile.open(fileobj=io.BufferedReader(_ChunkReader(chunks)), mode="r|") as archive:
        for member in archive:
            path = member.name.removeprefix("./").lstrip("/")
            if not wanted(path):
                continue
            if member.issym():
                found.links[path] = member.linkname
            elif member.isfile() and member.size <= MAX_FILE:
                handle = archive.extractfile(member)
                if handle is not None:
                    found.files[path] = handle.read()
    return found
