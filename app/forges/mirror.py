"""A bare mirror per repository, for reading a pushed commit's files before any run exists.

The webhook worker must read `.shiplog.yml` at the pushed commit (to know whether a
pipeline is triggered, and to record the file's digest in RunQueued) and list the
files the push changed (for `paths` filters). It fetches only the ref it was told
about into a bare repository kept under SHIPLOG_HOME/mirrors, then asks git.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from app.executor.source import SourceError, run_git, strip_credentials

ZERO_SHA = "0" * 40


class Mirror:
    """The bare mirror of one repository under `root`."""

    def __init__(self, root: Path, identity: str, url: str, auth: Mapping[str, str]) -> None:
        self.path = Path(root) / (hashlib.sha256(identity.encode()).hexdigest()[:24] + ".git")
        self._url = url
        self._auth = dict(auth)
        self._shown = strip_credentials(url)

    def fetch(self, *refs: str) -> None:
        """Fetch `refs` (each into refs/shiplog/<ref>) from the repository."""
        if not (self.path / "HEAD").is_file():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            run_git(["init", "--quiet", "--bare", str(self.path)], what="making a mirror")
        specs = [f"+{ref}:refs/shiplog/{ref.removeprefix('refs/')}" for ref in refs]
        try:
            run_git(
                ["-C", str(self.path), "fetch", "--quiet", "--no-tags", self._url, *specs],
                what=f"fetching {', '.join(refs)} from {self._shown}",
                extra_env=self._auth,
            )
        except SourceError as error:
            raise SourceError(str(error).replace(self._url, self._shown)) from None

    def has(self, sha: str) -> bool:
        """Whether the mirror holds commit `sha`."""
        done = run_git(
            ["-C", str(self.path), "cat-file", "-e", f"{sha}^{{commit}}"],
            what="looking up a commit",
            check=False,
        )
        return done.returncode == 0

    def file_at(self, sha: str, path: str) -> bytes | None:
        """The bytes of `path` at commit `sha`, or None if the commit has no such file."""
        done = run_git(
            ["-C", str(self.path), "cat-file", "blob", f"{sha}:{path}"],
            what=f"reading {path} at {sha}",
            check=False,
        )
        return done.stdout if done.returncode == 0 else None

    def commit_time(self, sha: str) -> datetime:
        """The committer time of `sha`, in UTC."""
        done = run_git(
            ["-C", str(self.path), "show", "-s", "--format=%ct", sha], what=f"reading {sha}"
        )
        return datetime.fromtimestamp(int(done.stdout.strip()), UTC)

    def changed_files(self, before: str | None, after: str) -> list[str] | None:
        """Paths that differ between `before` and `after` (from their merge base); None: unknown.

        Unknown when there is no `before` (a new branch) or the mirror lacks it (a force
        push away from it): then path filters let the run through.
        """
        if not before or before == ZERO_SHA or not self.has(before):
            return None
        done = run_git(
            ["-C", str(self.path), "diff", "--name-only", "-z", f"{before}...{after}"],
            what=f"listing the files changed by {after}",
        )
        return [p for p in done.stdout.decode("utf-8", "replace").split("\0") if p]
