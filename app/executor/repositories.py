"""The key secrets and sandbox grants are scoped by: a repository's identity, or a local path.

A repository on a forge is its canonical identity (app/repo_identity.py): a clone URL,
an scp-like git address and `host/owner/name` all name the same repository, e.g.
`https://user:token@GitHub.com:443/acme/web.git` and `git@github.com:acme/web` are both
`github.com/acme/web`. A repository without a forge (a checkout without an `origin`
remote) is its `file://` URL, as `shiplog run` records it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from app.executor.source import SourceError
from app.repo_identity import NotARepository, canonical_repository

_BRANCH_PREFIX = "refs/heads/"


class InvalidRepository(SourceError):
    """A repository name from which no repository key can be made; the message says why."""


def repository_key(name: str) -> str:
    """The key of the repository `name` (a URL, git address, host/owner/name or file path)."""
    text = name.strip() if isinstance(name, str) else ""
    if not text or any(ord(c) < 32 for c in text):
        raise InvalidRepository(f"invalid repository name {name!r}")
    if text.startswith("file://"):
        path = unquote(urlsplit(text).path).rstrip("/") or "/"
        return Path(path).as_uri()
    if text.startswith("/"):
        return Path(text.rstrip("/") or "/").as_uri()
    try:
        return canonical_repository(text)
    except NotARepository as error:
        raise InvalidRepository(f"repository {name!r}: {error}") from None


def branch_of(ref: str) -> str | None:
    """The branch a ref names (`refs/heads/main` is `main`); None for tags and other refs."""
    return ref.removeprefix(_BRANCH_PREFIX) if ref.startswith(_BRANCH_PREFIX) else None
