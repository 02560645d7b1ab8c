"""What a forge's webhook says, read from the payloads GitHub, Gitea and GitLab send.

`read_delivery(forge, headers, payload)` turns a request (headers lower-cased, the body
already parsed as JSON) into a `Delivery`: which repository it claims, its delivery id,
and what happened: a push of a branch or a tag, a pull (merge) request opened or
updated, a ping, or something shiplog ignores. It trusts nothing yet: the caller proves
the signature with the claimed repository's secret before acting on it.

Payload shapes follow the forges' documentation: GitHub's `push`, `pull_request` and
`ping` events; Gitea's `push` and `pull_request` (its payloads mirror GitHub's, with
`synchronized` for new commits); GitLab's `Push Hook`, `Tag Push Hook` and `Merge
Request Hook`. A payload missing what its event needs is `Malformed`, naming the field.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from app.forges.registry import Forge
from app.inputs import TimeOutOfRange, text_problem, utc_moment

ZERO_SHA = "0" * 40
Json = Mapping[str, Any]


class Malformed(ValueError):
    """A payload lacks a field its event needs, or has one of the wrong type; says which."""


@dataclass(frozen=True)
class PushedCommit:
    """A commit as a push payload lists it."""

    sha: str
    authored_at: datetime
    author: str | None


@dataclass(frozen=True)
class Push:
    """A branch or a tag was pushed (not deleted)."""

    event: Literal["push", "tag"]
    ref: str
    before: str
    after: str
    sha: str  # the commit to run: `after`, or the commit a tag points at
    commits: tuple[PushedCommit, ...]

    @property
    def branch(self) -> str | None:
        """The branch pushed to, or None for a tag."""
        return self.ref.removeprefix("refs/heads/") if self.event == "push" else None


@dataclass(frozen=True)
class PullRequest:
    """A pull (merge) request was opened, reopened or got new commits."""

    number: int
    action: str
    sha: str  # the head commit
    fetch_ref: str  # where the forge keeps it: refs/pull/<n>/head, refs/merge-requests/<n>/head
    target_branch: str
    base_sha: str | None
    fork: bool  # from another repository: its run gets no secrets


@dataclass(frozen=True)
class Ping:
    """The forge checks that the webhook is reachable; nothing to do."""


@dataclass(frozen=True)
class Ignored:
    """An event shiplog does not act on; `why` says what it was."""

    why: str


Happening = Push | PullRequest | Ping | Ignored


@dataclass(frozen=True)
class Delivery:
    """One webhook request: the repository it claims, its id, and what happened."""

    forge: Forge
    delivery: str
    repository_urls: tuple[str, ...]  # where the payload names the repository, best first
    what: Happening


def _field(data: Json, path: str) -> Any:
    """The value at a dotted `path` of `data`; Malformed if it is missing."""
    value: Any = data
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value or value[key] is None:
            raise Malformed(f"the payload has no {path}")
        value = value[key]
    return value


def _text(data: Json, path: str) -> str:
    value = _field(data, path)
    if not isinstance(value, str) or not value:
        raise Malformed(f"the payload's {path} is not a non-empty string")
    return _storable(value, path)


def _storable(value: str, path: str) -> str:
    """`value` if PostgreSQL and JSON can hold it; else Malformed naming `path`."""
    problem = text_problem(value)
    if problem is not None:
        raise Malformed(f"the payload's {path} {problem}")
    return value


def _optional(data: Json, path: str) -> Any:
    try:
        return _field(data, path)
    except Malformed:
        return None


def _sha(data: Json, path: str) -> str:
    value = _text(data, path).lower()
    if len(value) not in (40, 64) or any(c not in "0123456789abcdef" for c in value):
        raise Malformed(f"the payload's {path} is not a full commit sha")
    return value


def _commits(data: Json) -> tuple[PushedCommit, ...]:
    listed = _optional(data, "commits") or []
    if not isinstance(listed, list):
        raise Malformed("the payload's commits is not a list")
    found = []
    for index, item in enumerate(listed):
        if not isinstance(item, Mapping):
            raise Malformed(f"the payload's commits[{index}] is not an object")
        stamp = _text(item, "timestamp")
        try:
            authored_at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            raise Malformed(f"the payload's commits[{index}].timestamp is not ISO 8601") from None
        if authored_at.tzinfo is None:
            raise Malformed(f"the payload's commits[{index}].timestamp has no offset")
        try:
            authored_at = utc_moment(authored_at)
        except TimeOutOfRange as error:
            raise Malformed(f"the payload's commits[{index}].timestamp: {error}") from None
        name, email = _optional(item, "author.name"), _optional(item, "author.email")
        author = f"{name} <{email}>" if name and email else (name or email or None)
        if isinstance(author, str):
            _storable(author, f"commits[{index}].author")
        found.append(PushedCommit(_sha(item, "id"), authored_at, author))
    return tuple(found)


def _urls(data: Json, *paths: str) -> tuple[str, ...]:
    return tuple(v for p in paths if isinstance(v := _optional(data, p), str) and v)


def _delivery_id(headers: Mapping[str, str], names: tuple[str, ...], body: bytes) -> str:
    """The first of the named headers present, else a digest of the body (same on a resend)."""
    for name in names:
        value = headers.get(name, "").strip()
        if value:
            return value[:200]
    return "sha256:" + hashlib.sha256(body).hexdigest()


_REPOSITORY_FIELDS: dict[str, tuple[str, ...]] = {
    "github": ("repository.html_url", "repository.clone_url", "repository.ssh_url"),
    "gitea": ("repository.html_url", "repository.clone_url", "repository.ssh_url"),
    "gitlab": ("project.web_url", "project.git_http_url", "project.git_ssh_url"),
}


def repository_urls(forge: Forge, payload: Json) -> tuple[str, ...]:
    """Where a payload names its repository, best first (empty if it names none)."""
    return _urls(payload, *_REPOSITORY_FIELDS[forge])


def read_delivery(forge: Forge, headers: Mapping[str, str], payload: Json, body: bytes) -> Delivery:
    """The delivery a request stands for (headers lower-cased); Malformed names a missing field."""
    if forge == "github":
        return _github(headers, payload, body)
    if forge == "gitea":
        return _gitea(headers, payload, body)
    return _gitlab(headers, payload, body)


def _push_like(payload: Json, ref: str, sha: str) -> Push | Ignored:
    after = _sha(payload, "after")
    if after == ZERO_SHA:
        return Ignored(f"{ref} was deleted")
    if ref.startswith("refs/tags/"):
        event: Literal["push", "tag"] = "tag"
    elif ref.startswith("refs/heads/"):
        event = "push"
    else:
        return Ignored(f"a push to {ref}, which is neither a branch nor a tag")
    before = _optional(payload, "before") or ZERO_SHA
    return Push(event, ref, str(before).lower(), after, sha, _commits(payload))


def _github(headers: Mapping[str, str], payload: Json, body: bytes) -> Delivery:
    event = headers.get("x-github-event", "")
    delivery = _delivery_id(headers, ("x-github-delivery",), body)
    urls = repository_urls("github", payload)
    what: Happening
    if event == "ping":
        what = Ping()
    elif event == "push":
        ref = _text(payload, "ref")
        head = _optional(payload, "head_commit.id")
        sha = str(head).lower() if head else _sha(payload, "after")
        what = _push_like(payload, ref, sha)
    elif event == "pull_request":
        what = _pull_request(payload, "github", {"opened", "synchronize", "reopened"})
    else:
        what = Ignored(f"GitHub event {event or '(none)'!r}")
    return Delivery("github", delivery, urls, what)


def _gitea(headers: Mapping[str, str], payload: Json, body: bytes) -> Delivery:
    event = headers.get("x-gitea-event", "") or headers.get("x-github-event", "")
    delivery = _delivery_id(headers, ("x-gitea-delivery", "x-github-delivery"), body)
    urls = repository_urls("gitea", payload)
    what: Happening
    if event == "ping":
        what = Ping()
    elif event == "push":
        ref = _text(payload, "ref")
        what = _push_like(payload, ref, _sha(payload, "after"))
    elif event in ("pull_request", "pull_request_sync"):
        what = _pull_request(payload, "gitea", {"opened", "synchronized", "reopened"})
    else:
        what = Ignored(f"Gitea event {event or '(none)'!r}")
    return Delivery("gitea", delivery, urls, what)


def _pull_request(payload: Json, forge: Forge, actions: set[str]) -> PullRequest | Ignored:
    action = _text(payload, "action")
    if action not in actions:
        return Ignored(f"pull request {action}")
    number = _field(payload, "number")
    if not isinstance(number, int) or isinstance(number, bool):
        raise Malformed("the payload's number is not an integer")
    head_repo = _optional(payload, "pull_request.head.repo.full_name")
    base_repo = _optional(payload, "pull_request.base.repo.full_name")
    fork = head_repo is None or str(head_repo).lower() != str(base_repo or "").lower()
    base_sha = _optional(payload, "pull_request.base.sha")
    return PullRequest(
        number=number,
        action=action,
        sha=_sha(payload, "pull_request.head.sha"),
        fetch_ref=f"refs/pull/{number}/head",
        target_branch=_text(payload, "pull_request.base.ref"),
        base_sha=str(base_sha).lower() if base_sha else None,
        fork=fork,
    )


def _gitlab(headers: Mapping[str, str], payload: Json, body: bytes) -> Delivery:
    event = headers.get("x-gitlab-event", "")
    delivery = _delivery_id(headers, ("idempotency-key", "webhook-id", "x-gitlab-event-uuid"), body)
    urls = repository_urls("gitlab", payload)
    what: Happening
    if event in ("Push Hook", "Tag Push Hook"):
        ref = _text(payload, "ref")
        checkout = _optional(payload, "checkout_sha")
        sha = str(checkout).lower() if checkout else _sha(payload, "after")
        what = _push_like(payload, ref, sha)
    elif event == "Merge Request Hook":
        what = _merge_request(payload)
    else:
        what = Ignored(f"GitLab event {event or '(none)'!r}")
    return Delivery("gitlab", delivery, urls, what)


def _merge_request(payload: Json) -> PullRequest | Ignored:
    action = _text(payload, "object_attributes.action")
    if action == "update" and not _optional(payload, "object_attributes.oldrev"):
        return Ignored("merge request update without new commits")
    if action not in ("open", "reopen", "update"):
        return Ignored(f"merge request {action}")
    number = _field(payload, "object_attributes.iid")
    if not isinstance(number, int) or isinstance(number, bool):
        raise Malformed("the payload's object_attributes.iid is not an integer")
    source = _optional(payload, "object_attributes.source_project_id")
    target = _optional(payload, "object_attributes.target_project_id")
    return PullRequest(
        number=number,
        action=action,
        sha=_sha(payload, "object_attributes.last_commit.id"),
        fetch_ref=f"refs/merge-requests/{number}/head",
        target_branch=_text(payload, "object_attributes.target_branch"),
        base_sha=None,
        fork=source is None or source != target,
    )
