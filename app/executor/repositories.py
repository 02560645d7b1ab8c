"""One name per repository, however it is written: the key secrets and sandbox grants are scoped by.

A clone URL, an scp-like git address and a `host/owner/name` all name the same
repository: `https://user:token@GitHub.com:443/acme/web.git`, `git@github.com:acme/web`
and `github.com/acme/web` are each `github.com/acme/web`. The host is lower-cased,
credentials and ports are dropped, and so are a trailing `.git` and slashes; the path
keeps its case. A repository without a forge (a checkout without an `origin` remote)
is its `file://` URL, as `shiplog run` records it.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from app.executor.source import SourceError

_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")
_BRANCH_PREFIX = "refs/heads/"


class InvalidRepository(SourceError):
    """A repository name from which no repository key can be made; the message says why."""


def repository_key(name: str) -> str:
    """The canonical name of the repository `name` (a URL, git address, host/path or file path)."""
    text = name.strip() if isinstance(name, str) else ""
    if not text or any(ord(c) < 32 for c in text):
        raise InvalidRepository(f"invalid repository name {name!r}")
    if text.startswith("file://"):
        path = unquote(urlsplit(text).path).rstrip("/") or "/"
        return Path(path).as_uri()
    if text.startswith("/"):
        return Path(text.rstrip("/") or "/").as_uri()
    if "://" in text:
        parts = urlsplit(text)
        host, path = (parts.hostname or "").lower(), parts.path
    elif match := _SCP_LIKE.match(text):
        host, path = match.group("host").lower(), match.group("path")
    else:
        host, _, path = text.partition("/")
        host = host.lower()
        if "." not in host and host != "localhost":
            raise InvalidRepository(
                f"repository {name!r} names no host: write it as a clone URL or as "
                "host/owner/name, e.g. github.com/acme/web"
            )
    path = path.strip("/").removesuffix(".git").strip("/")
    if not host or not path:
        raise InvalidRepository(
            f"repository {name!r} needs a host and a path, e.g. github.com/acme/web"
        )
    return f"{host}/{path}"


def branch_of(ref: str) -> str | None:
    """The branch a ref names (`refs/heads/main` is `main`); None for tags and other refs."""
    return ref.removeprefix(_BRANCH_PREFIX) if ref.startswith(_BRANCH_PREFIX) else None
