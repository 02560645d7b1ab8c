"""Read an image's file system through the Docker engine: the one module here that uses Docker.

A container is created from the image (never started), its file system exported
as one tar stream and walked once; only the files `files.wanted` names are kept.
The container is always removed. This reads any path in one pass (site-packages
and node_modules can be anywhere) without unpacking anything to disk.
"""

from __future__ import annotations

import tarfile
from typing import IO, Any

import docker.errors

from app.engine.export import exported
from app.supplychain.files import MAX_FILE, ImageFiles, ImageMetadata, wanted


class ImageUnavailable(LookupError):
    """The image is not on the engine, or the engine refused to read it."""


def image_facts(client: Any, ref: str) -> ImageMetadata:
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
    return ImageMetadata(
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
        with exported(client, image_id, labels or {}) as stream:
            return walk_tar(stream)
    except docker.errors.APIError as error:
        raise ImageUnavailable(
            f"cannot read image {image_id}: {error.explanation or error}"
        ) from None


def walk_tar(stream: IO[bytes]) -> ImageFiles:
    """Keep the wanted regular files and symlinks of a tar stream."""
    found = ImageFiles()
    with tarfile.open(fileobj=stream, mode="r|") as archive:
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
