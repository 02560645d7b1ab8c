"""What either builder (the engine's through the SDK, or BuildKit through the CLI) is asked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO

from app.executor.actions.masking import Masker
from app.executor.actions.support import LogSink


@dataclass(frozen=True)
class BuildRequest:
    """One build: the context archive as sent, and everything the builder is given with it."""

    archive: IO[bytes]
    dockerfile: str
    tag: str | None
    buildargs: Mapping[str, str]
    labels: Mapping[str, str]
    target: str | None
    deadline: float
    """time.monotonic() by which the build must end."""
    log: LogSink
    mask: Masker
    nocache: bool = False
    secrets: Mapping[str, str] = field(default_factory=dict)
    """Secret values by id, given as BuildKit secret mounts; never build arguments."""
