"""Which files of an image's file system the inventory reads, and the image facts it needs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_FILE = 64 * 1024 * 1024
"""Files larger than this are not read (a dpkg status of thousands of packages is a few MiB)."""

_WANTED = re.compile(
    r"""^(?:
        etc/os-release | usr/lib/os-release
      | var/lib/dpkg/status | var/lib/dpkg/status\.d/[^/]+
      | lib/apk/db/installed
      | usr/share/doc/[^/]+/copyright
      | .*/(?:site|dist)-packages/[^/]+\.dist-info/METADATA
      | .*/(?:site|dist)-packages/[^/]+\.egg-info(?:/PKG-INFO)?
      | (?:.*/)?node_modules/(?:@[^/]+/)?[^/@][^/]*/package\.json
    )$""",
    re.VERBOSE,
)


def wanted(path: str) -> bool:
    """Whether the inventory reads the file at `path` (relative to the root, no leading '/')."""
    return _WANTED.match(path) is not None and not path.endswith(".md5sums")


@dataclass(frozen=True)
class ImageMetadata:
    """What the inventory and the SBOM need to know of an image besides its files."""

    image_id: str
    """`sha256:<hex>`: the image's id (its config digest) on the engine."""
    created: str
    """The image's creation time as the engine reports it (RFC 3339)."""
    labels: dict[str, str] = field(default_factory=dict)
    architecture: str | None = None
    os: str | None = None


@dataclass
class ImageFiles:
    """The wanted files of one image, by path relative to its root; symlinks by their target."""

    files: dict[str, bytes] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)

    def read(self, path: str) -> bytes | None:
        """The bytes at `path`, following a symlink among the collected files once."""
        if path in self.files:
            return self.files[path]
        target = self.links.get(path)
        if target is None:
            return None
        if target.startswith("/"):
            resolved = target.lstrip("/")
        else:
            base = path.rsplit("/", 1)[0] if "/" in path else ""
            parts: list[str] = []
            for part in f"{base}/{target}".split("/"):
                if part == "..":
                    if parts:
                        parts.pop()
                elif part and part != ".":
                    parts.append(part)
            resolved = "/".join(parts)
        return self.files.get(resolved)

    def text(self, path: str) -> str | None:
        """`read` decoded as UTF-8 (invalid bytes replaced)."""
        data = self.read(path)
        return None if data is None else data.decode("utf-8", errors="replace")
