"""An image's merged file system as one tar stream, from `docker export` of a created container."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Mapping
from typing import IO, Any

import docker.errors

CHUNK = 1 << 20
PLACEHOLDER_COMMAND = ["/shiplog-export-only"]
"""The container is never started; a command is given for images that have none."""


class _ChunkReader(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (what `export()` returns)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


@contextlib.contextmanager
def exported(client: Any, image_id: str, labels: Mapping[str, str]) -> Iterator[IO[bytes]]:
    """The file system of `image_id` as an uncompressed tar stream, read once, front to back.

    A container is created from the image (never started, no network) and removed when
    the block ends, whatever happens; the engine's errors (docker.errors.APIError) pass.
    """
    container = client.containers.create(
        image_id, command=PLACEHOLDER_COMMAND, labels=dict(labels), network_disabled=True
    )
    try:
        yield io.BufferedReader(_ChunkReader(iter(container.export(chunk_size=CHUNK))))
    finally:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True, v=True)
