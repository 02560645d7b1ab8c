"""The build-context digest: which files a build was given, independent of how they were made.

Definition. The files are those the docker SDK sends for a build of the context with
that Dockerfile: the archive `docker.utils.tar` makes with the pattern `.git` followed by
the patterns of the context's `.dockerignore` (read as `APIClient.build` reads them),
directories included, sockets left out. For each archive member one line is made:

    <path relative to the context, '/'-separated> NUL <mode in octal> NUL <hash> LF

where the mode is the file's `lstat` mode, type bits included (`100644` for a file,
`120777` for a symlink, `40755` for a directory), and `hash` is the hex sha256 of a
regular file's content (hard links count as the file they link to), of a symlink's
target text, and empty for anything else. The digest is `sha256:` + the hex sha256 of
those lines sorted and concatenated. So it does not depend on the order files were
created or listed in, and changes when a file's content, mode, name or presence
changes; owners and times are not part of it (though COPY keeps times in the layer).

The build step digests the very archive it then sends to the engine, so a step writing
into the workspace meanwhile cannot make the digest disagree with the build.
"""

from __future__ import annotations

import hashlib
import posixpath
import stat
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from docker.api.build import process_dockerfile
from docker.utils import tar

CHUNK = 1 << 20
_TYPE_BITS = {
    tarfile.REGTYPE: stat.S_IFREG,
    tarfile.AREGTYPE: stat.S_IFREG,
    tarfile.LNKTYPE: stat.S_IFREG,
    tarfile.SYMTYPE: stat.S_IFLNK,
    tarfile.DIRTYPE: stat.S_IFDIR,
    tarfile.FIFOTYPE: stat.S_IFIFO,
    tarfile.CHRTYPE: stat.S_IFCHR,
    tarfile.BLKTYPE: stat.S_IFBLK,
}


def digest_entries(entries: Iterable[tuple[str, int, str]]) -> str:
    """`sha256:<hex>` over the sorted lines `path NUL mode-in-octal NUL hash LF` of the entries."""
    lines = sorted(f"{path}\0{mode:o}\0{content}\n" for path, mode, content in entries)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8", "surrogateescape"))
    return "sha256:" + digest.hexdigest()


def dockerignore_patterns(context: Path) -> list[str]:
    """The context's `.dockerignore` patterns, read exactly as the docker SDK reads them."""
    path = context / ".dockerignore"
    if not path.exists():
        return []
    with path.open() as handle:
        lines = [line.strip() for line in handle.read().splitlines()]
    return [line for line in lines if line != "" and line[0] != "#"]


# The workspace is a fresh clone, so its .git differs on every run (pack files, index
# times) even at the same commit. It is left out of every context, as Docker itself
# does for git contexts; a .dockerignore can take it back with `!.git`.
ALWAYS_IGNORED = (".git",)


def context_archive(context: Path, dockerfile: str = "Dockerfile") -> IO[bytes]:
    """The context as the SDK sends it for `build(path=context, dockerfile=...)`: a temp file."""
    patterns = [*ALWAYS_IGNORED, *dockerignore_patterns(context)]
    processed = process_dockerfile(dockerfile, str(context))
    archive: Any = tar(str(context), exclude=patterns, dockerfile=processed)
    return archive  # type: ignore[no-any-return]


def archive_entries(archive: IO[bytes]) -> list[tuple[str, int, str]]:
    """(path, mode, hash) of each member of an uncompressed context archive; rewinds it."""
    entries: list[tuple[str, int, str]] = []
    hashes: dict[str, str] = {}
    archive.seek(0)
    with tarfile.open(fileobj=archive, mode="r:") as members:
        for member in members:
            content = ""
            if member.isreg():
                digest = hashlib.sha256()
                handle = members.extractfile(member)
                while handle is not None and (chunk := handle.read(CHUNK)):
                    digest.update(chunk)
                content = hashes[member.name] = digest.hexdigest()
            elif member.islnk():
                content = hashes.get(member.linkname, "")
            elif member.issym():
                content = hashlib.sha256(
                    member.linkname.encode("utf-8", "surrogateescape")
                ).hexdigest()
            mode = _TYPE_BITS.get(member.type, 0) | member.mode
            entries.append((member.name, mode, content))
    archive.seek(0)
    return entries


def archive_file(archive: IO[bytes], name: str) -> bytes | None:
    """The content of the regular file `name` in the archive, None if it has none; rewinds it."""
    archive.seek(0)
    try:
        with tarfile.open(fileobj=archive, mode="r:") as members:
            try:
                member = members.getmember(posixpath.normpath(name))
            except KeyError:
                return None
            handle = members.extractfile(member) if member.isreg() else None
            return handle.read() if handle is not None else None
    finally:
        archive.seek(0)


def context_digest(context: Path, dockerfile: str = "Dockerfile") -> str:
    """The digest defined above, of the build context `context` with that Dockerfile."""
    with context_archive(context, dockerfile) as archive:
        return digest_entries(archive_entries(archive))
