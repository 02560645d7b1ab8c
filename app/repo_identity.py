"""One name for a repository however it is written: `host/owner/name`, in lower case.

A repository reaches shiplog in many spellings: a clone URL (https, ssh, git, or the
scp-like `git@host:owner/name.git`), a webhook payload (its `html_url`, `clone_url`
or GitLab's `path_with_namespace`), a CDEvent subject, a deployment report. They all
name the same thing, and lead time, timelines and webhooks must agree on it, so every
place that records or compares a repository goes through `repository_id`.

The identity is the forge's host (no scheme, no user, no port: the same repository is
reached over https on one port and ssh on another) and the repository's path on it
(GitHub and Gitea `owner/name`, GitLab `group/subgroup/project`), without a trailing
`.git` or `/`, lower-cased (the forges treat names case-insensitively). It is a valid
stream id, so a repository's stream is `repo-<identity>`.

A neutral module (like app/steplogs.py): folds, queries, commands and the executor all
use it, so it imports nothing of shiplog.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import NamedTuple
from urllib.parse import urlsplit

# URL schemes a forge repository is cloned over.
_SCHEMES = frozenset({"http", "https", "ssh", "git", "git+ssh", "ssh+git"})
# One segment of a repository path on GitHub, Gitea or GitLab.
_SEGMENT = re.compile(r"[a-z0-9_.][a-z0-9_.-]*")
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
# scp-like syntax, as git reads it: [user@]host:path, no slash before the colon.
_SCP = re.compile(r"(?:[^@/\s]+@)?(?P<host>[^:/\s@]+):(?P<path>[^\s]+)")
MAX_IDENTITY = 190  # leaves room for "repo-" within the 200 characters of a stream name


class NotARepository(ValueError):
    """The text names no forge repository; the message says what was expected."""


class RepositoryId(NamedTuple):
    """A repository's canonical identity: the forge's host and the path on it."""

    host: str
    path: str

    def __str__(self) -> str:
        return f"{self.host}/{self.path}"

    @property
    def stream(self) -> str:
        """The repository's stream in the ledger: `repo-<host>/<path>`."""
        return f"repo-{self}"

    @property
    def name(self) -> str:
        """The last segment of the path: the repository's own name."""
        return self.path.rsplit("/", 1)[-1]


def repository_id(text: str, *, host: str | None = None) -> RepositoryId:
    """The identity `text` names: a clone URL, `git@host:owner/name.git`, or `host/owner/name`.

    `host` is the forge to assume when `text` is a bare `owner/name` (a webhook's
    `full_name`, a CDEvent's repository id). NotARepository says why anything else fails.
    """
    if not isinstance(text, str) or not text.strip():
        raise NotARepository("a repository is needed: a clone URL or host/owner/name")
    given = text.strip()
    if any(ord(char) < 0x20 or char == "\x7f" for char in given):
        raise NotARepository(f"{given!r} contains control characters")
    if "://" in given:
        found_host, path = _from_url(given)
    elif (scp := _SCP.fullmatch(given)) is not None and not re.match(r"\d+/", scp["path"]):
        found_host, path = scp["host"], scp["path"]
    else:
        found_host, path = _from_bare(given, host)
    return _checked(found_host, path, given)


def canonical_repository(text: str, *, host: str | None = None) -> str:
    """The identity of `text` as a string, `host/owner/name` (NotARepository if it names none)."""
    return str(repository_id(text, host=host))


@functools.lru_cache(maxsize=4096)
def comparable_repository(text: str) -> str:
    """The identity of `text` if it names a forge repository, else `text` unchanged.

    For comparing what was recorded: a local checkout's `file://` URL, or a name a tool
    reported without a host, still equals itself. Cached: reports compare the same few
    spellings thousands of times.
    """
    try:
        return canonical_repository(text)
    except NotARepository:
        return text


def same_repository(first: str, second: str) -> bool:
    """Whether two spellings name the same repository."""
    return comparable_repository(first) == comparable_repository(second)


def url_spellings(identity: RepositoryId) -> tuple[str, ...]:
    """The usual clone URLs of a repository (https, http, ssh, scp-like; with and without `.git`).

    For finding what was recorded under a URL (a run's `repository`) by its identity.
    """
    host, path = identity
    forms = []
    for base in (f"https://{host}/{path}", f"http://{host}/{path}", f"ssh://git@{host}/{path}"):
        forms += [base, f"{base}.git"]
    forms += [f"git@{host}:{path}", f"git@{host}:{path}.git"]
    return tuple(forms)


def clone_secret_name(identity: RepositoryId | str) -> str:
    """The name of the secret holding a registered repository's clone credential.

    One secret per repository; a name the secret store accepts (letters, digits, `_`),
    derived from the identity's digest so that no two repositories share one.
    """
    digest = hashlib.sha256(str(identity).encode()).hexdigest()[:16].upper()
    return f"SHIPLOG_CLONE_{digest}"


def _from_url(given: str) -> tuple[str, str]:
    try:
        parts = urlsplit(given)
        port = parts.port  # raises ValueError on a port that is not a number
    except ValueError as error:
        raise NotARepository(f"{given!r} is not a valid URL: {error}") from None
    del port
    scheme = parts.scheme.lower()
    if scheme == "file":
        raise NotARepository(f"{given!r} is a local path, not a repository on a forge")
    if scheme not in _SCHEMES:
        listed = ", ".join(sorted(_SCHEMES))
        raise NotARepository(f"{given!r}: a clone URL's scheme is one of {listed}")
    if not parts.hostname:
        raise NotARepository(f"{given!r} names no host")
    return parts.hostname, parts.path


def _from_bare(given: str, host: str | None) -> tuple[str, str]:
    """`host/owner/name`, `host:port/owner/name`, or `owner/name` on the `host` given."""
    first, _, rest = given.partition("/")
    name, _, port = first.partition(":")
    looks_like_host = "." in name or name.lower() == "localhost" or port.isdigit()
    if looks_like_host and rest:
        return name, rest
    if host is None:
        raise NotARepository(
            f"{given!r} names no host: write host/owner/name or a clone URL, "
            "e.g. github.com/acme/web"
        )
    return _host_of(host), given


def _host_of(host: str) -> str:
    """The host name in `host`, which may be a URL (a CDEvent's source) or `host:port`."""
    if "://" in host:
        return urlsplit(host).hostname or ""
    return host.partition("/")[0].partition(":")[0]


def _checked(host: str, path: str, given: str) -> RepositoryId:
    host = host.lower().rstrip(".")
    if not _HOST.fullmatch(host):
        raise NotARepository(f"{given!r}: {host!r} is not a host name")
    path = path.split("/-/", 1)[0]  # GitLab's pages below a project: /group/app/-/tree/main
    path = path.strip("/").lower()
    path = path.removesuffix(".git").rstrip("/")
    segments = path.split("/")
    if len(segments) < 2:
        raise NotARepository(f"{given!r}: a repository path is owner/name, found {path!r}")
    for segment in segments:
        if not _SEGMENT.fullmatch(segment) or segment in {".", ".."}:
            raise NotARepository(
                f"{given!r}: {segment!r} is not a repository path segment "
                "(letters, digits, '.', '_' and '-')"
            )
    identity = RepositoryId(host, "/".join(segments))
    if len(str(identity)) > MAX_IDENTITY:
        raise NotARepository(f"{given!r}: longer than {MAX_IDENTITY} characters")
    return identity
