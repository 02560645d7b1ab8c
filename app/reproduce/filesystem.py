"""Comparing two images: their settings, layer diff ids, and file systems entry by entry.

A file system is read from `docker export` of a container created (never started)
from the image: the merged result of every layer, whiteouts applied. Each entry is
kept as its type, permission bits, numeric owner, size, sha256 (regular files) and
link target (links); times are ignored, since the legacy builder stamps files with
the moment of the build. The container also holds what the engine adds to every
container (/etc/hosts, /.dockerenv, ...); it is the same for both images.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

from app.engine.export import exported
from events.vocabulary import FileDifference

CHUNK = 1 << 20
EXPORT_LABEL = "dev.shiplog.reproduction"
# The image settings compared (the `config` of the image); timestamps and the
# builder's own bookkeeping (ContainerConfig, history) are left out.
SETTINGS = (
    "Cmd",
    "Entrypoint",
    "Env",
    "ExposedPorts",
    "Healthcheck",
    "Labels",
    "OnBuild",
    "Shell",
    "StopSignal",
    "User",
    "Volumes",
    "WorkingDir",
)
_KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.LNKTYPE: "hardlink",
    tarfile.SYMTYPE: "symlink",
    tarfile.DIRTYPE: "dir",
    tarfile.FIFOTYPE: "fifo",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
}
ASPECTS = ("type", "mode", "owner", "size", "sha256", "link")
MAX_DIFFERENCES = 500
MAX_DIFFERENCE_TEXT = 256 * 1024
"""A verdict lists at most this many differences, of at most this much text in all, so
that its event stays well below the ledger's size limit; the total is always recorded."""


@dataclass(frozen=True)
class Entry:
    """One path of an image's file system, times left out."""

    kind: str
    mode: int
    owner: str
    size: int
    sha256: str | None
    link: str | None

    def aspect(self, name: str) -> object:
        """The value of one of ASPECTS."""
        values = {
            "type": self.kind,
            "mode": self.mode,
            "owner": self.owner,
            "size": self.size,
            "sha256": self.sha256,
            "link": self.link,
        }
        return values[name]

    def describe(self) -> str:
        """`<type> <mode> <uid>:<gid> <size> <sha256|link>`, e.g. `file 0644 0:0 12 ab12…`."""
        tail = self.sha256 or (f"-> {self.link}" if self.link is not None else "-")
        return f"{self.kind} {self.mode:04o} {self.owner} {self.size} {tail}"


def file_system(client: Any, image_id: str) -> dict[str, Entry]:
    """Every path of the image's file system (as `/a/b`), with its entry."""
    with exported(client, image_id, {EXPORT_LABEL: image_id}) as stream:
        return read_entries(stream)


def read_entries(stream: IO[bytes]) -> dict[str, Entry]:
    """The entries of an uncompressed tar stream, by absolute path."""
    entries: dict[str, Entry] = {}
    with tarfile.open(fileobj=stream, mode="r|") as members:
        for member in members:
            path = "/" + member.name.strip("/").removeprefix("./")
            if path in ("/", "/."):
                continue
            digest = None
            if member.isreg():
                hasher = hashlib.sha256()
                handle = members.extractfile(member)
                while handle is not None and (chunk := handle.read(CHUNK)):
                    hasher.update(chunk)
                digest = hasher.hexdigest()
            link = member.linkname if member.issym() or member.islnk() else None
            if member.islnk() and link is not None:
                link = "/" + link.strip("/")
            entries[path] = Entry(
                kind=_KINDS.get(member.type, f"type-{member.type!r}"),
                mode=member.mode & 0o7777,
                owner=f"{member.uid}:{member.gid}",
                size=member.size if member.isreg() else 0,
                sha256=digest,
                link=link,
            )
    return entries


def compare_files(
    original: Mapping[str, Entry], rebuilt: Mapping[str, Entry]
) -> list[FileDifference]:
    """Every path whose entry is not the same in both, sorted by path."""
    differences: list[FileDifference] = []
    for path in sorted(original.keys() | rebuilt.keys()):
        before, after = original.get(path), rebuilt.get(path)
        if before == after:
            continue
        if before is None or after is None:
            differences.append(
                FileDifference(
                    path=path,
                    change="added" if before is None else "removed",
                    original=before.describe() if before else None,
                    rebuilt=after.describe() if after else None,
                )
            )
            continue
        aspects = tuple(a for a in ASPECTS if before.aspect(a) != after.aspect(a))
        differences.append(
            FileDifference(
                path=path,
                change="changed",
                aspects=aspects,
                original=before.describe(),
                rebuilt=after.describe(),
            )
        )
    return differences


def first_differences(differences: list[FileDifference]) -> tuple[FileDifference, ...]:
    """The differences a verdict lists: the first ones, within MAX_DIFFERENCES and its text."""
    kept: list[FileDifference] = []
    text = 0
    for difference in differences[:MAX_DIFFERENCES]:
        text += (
            sum(
                len(part or "")
                for part in (difference.path, difference.original, difference.rebuilt)
            )
            + 64
        )
        if text > MAX_DIFFERENCE_TEXT:
            break
        kept.append(difference)
    return tuple(kept)


def compare_settings(original: Mapping[str, Any], rebuilt: Mapping[str, Any]) -> list[str]:
    """The names in SETTINGS whose values differ between two images' `Config`."""
    before = original.get("Config") or {}
    after = rebuilt.get("Config") or {}
    return [name for name in SETTINGS if (before.get(name) or None) != (after.get(name) or None)]


def diff_ids(attrs: Mapping[str, Any]) -> list[str]:
    """The image's layer diff ids, bottom first (`RootFS.Layers` of its inspect data)."""
    return [str(layer) for layer in (attrs.get("RootFS") or {}).get("Layers") or []]
