"""Webhook requests as GitHub, Gitea and GitLab send them: payloads, headers and signatures.

The payloads keep the fields and nesting of the forges' documented examples (GitHub's
`push`, `pull_request` and `ping`; Gitea's `push` and `pull_request`; GitLab's `Push
Hook`, `Tag Push Hook` and `Merge Request Hook`), trimmed of fields shiplog never reads.
`signed_*` return the body bytes and headers exactly as each forge would send them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from standardwebhooks import Webhook

ZERO = "0" * 40
Json = dict[str, Any]


def commit(
    sha: str, timestamp: str = "2026-03-02T10:00:00+01:00", files: tuple[str, ...] = ()
) -> Json:
    """A commit as push payloads list it (GitHub/Gitea shape; GitLab's is the same subset)."""
    return {
        "id": sha,
        "tree_id": "f" * 40,
        "distinct": True,
        "message": "Fix the build",
        "timestamp": timestamp,
        "url": f"https://forge.example/commit/{sha}",
        "author": {"name": "Ada Lovelace", "email": "ada@example.com", "username": "ada"},
        "committer": {"name": "Ada Lovelace", "email": "ada@example.com", "username": "ada"},
        "added": [],
        "removed": [],
        "modified": list(files),
    }


def github_repository(html_url: str, full_name: str) -> Json:
    """The `repository` object of a GitHub (or Gitea) payload."""
    owner, name = full_name.split("/")
    return {
        "id": 1296269,
        "name": name,
        "full_name": full_name,
        "private": False,
        "owner": {"login": owner, "id": 1, "type": "Organization"},
        "html_url": html_url,
        "clone_url": html_url + ".git",
        "ssh_url": f"git@{html_url.split('://')[1].split('/')[0]}:{full_name}.git",
        "default_branch": "main",
        "fork": False,
    }


def github_push(
    html_url: str, full_name: str, ref: str, before: str, after: str, commits: list[Json]
) -> Json:
    """A GitHub `push` payload (Gitea sends the same shape)."""
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": before == ZERO,
        "deleted": after == ZERO,
        "forced": False,
        "base_ref": None,
        "compare": f"{html_url}/compare/{before[:12]}...{after[:12]}",
        "commits": commits,
        "head_commit": commits[-1] if commits else ({"id": after} if after != ZERO else None),
        "repository": github_repository(html_url, full_name),
        "pusher": {"name": "ada", "email": "ada@example.com"},
        "sender": {"login": "ada", "id": 2},
    }


def github_pull_request(
    html_url: str,
    full_name: str,
    number: int,
    action: str,
    head_sha: str,
    base_branch: str = "main",
    head_full_name: str | None = None,
) -> Json:
    """A GitHub `pull_request` payload; `head_full_name` other than the base's is a fork."""
    head_repo = github_repository(html_url, head_full_name or full_name)
    head_repo["fork"] = head_full_name is not None and head_full_name != full_name
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "id": 1,
            "number": number,
            "state": "open",
            "title": "Add a feature",
            "head": {"label": "ada:feature", "ref": "feature", "sha": head_sha, "repo": head_repo},
            "base": {
                "label": f"acme:{base_branch}",
                "ref": base_branch,
                "sha": "e" * 40,
                "repo": github_repository(html_url, full_name),
            },
        },
        "repository": github_repository(html_url, full_name),
        "sender": {"login": "ada", "id": 2},
    }


def github_ping(html_url: str, full_name: str) -> Json:
    """The `ping` GitHub sends when a webhook is created."""
    return {
        "zen": "Keep it logically awesome.",
        "hook_id": 42,
        "hook": {"type": "Repository", "id": 42, "events": ["push", "pull_request"]},
        "repository": github_repository(html_url, full_name),
        "sender": {"login": "ada", "id": 2},
    }


def gitlab_project(web_url: str, path: str) -> Json:
    """The `project` object of a GitLab payload."""
    host = web_url.split("://")[1].split("/")[0]
    return {
        "id": 15,
        "name": path.rsplit("/", 1)[-1],
        "web_url": web_url,
        "git_ssh_url": f"git@{host}:{path}.git",
        "git_http_url": f"{web_url}.git",
        "namespace": path.rsplit("/", 1)[0],
        "path_with_namespace": path,
        "default_branch": "main",
    }


def _gitlab_commit(item: Json) -> Json:
    """A commit as GitLab lists it: GitHub's shape without the fields GitLab lacks."""
    kept = ("id", "message", "timestamp", "url", "author", "added", "modified", "removed")
    return {key: item[key] for key in kept}


def gitlab_push(
    web_url: str, path: str, ref: str, before: str, after: str, commits: list[Json]
) -> Json:
    """A GitLab `Push Hook` (or, with a refs/tags/ ref, `Tag Push Hook`) payload."""
    tag = ref.startswith("refs/tags/")
    return {
        "object_kind": "tag_push" if tag else "push",
        "event_name": "tag_push" if tag else "push",
        "before": before,
        "after": after,
        "ref": ref,
        "ref_protected": True,
        "checkout_sha": after if after != ZERO else None,
        "user_name": "Ada Lovelace",
        "user_username": "ada",
        "project_id": 15,
        "project": gitlab_project(web_url, path),
        "commits": [_gitlab_commit(c) for c in commits],
        "total_commits_count": len(commits),
        "repository": {"name": path.rsplit("/", 1)[-1], "homepage": web_url},
    }


def gitlab_merge_request(
    web_url: str, path: str, iid: int, action: str, sha: str, source_project_id: int = 15
) -> Json:
    """A GitLab `Merge Request Hook` payload; another source project is a fork."""
    attributes: Json = {
        "iid": iid,
        "action": action,
        "state": "opened",
        "source_branch": "feature",
        "target_branch": "main",
        "source_project_id": source_project_id,
        "target_project_id": 15,
        "last_commit": {"id": sha, "timestamp": "2026-03-02T10:00:00+01:00"},
    }
    if action == "update":
        attributes["oldrev"] = "d" * 40
    return {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": {"username": "ada"},
        "project": gitlab_project(web_url, path),
        "object_attributes": attributes,
    }


def body_of(payload: Json) -> bytes:
    """The body bytes as a forge sends them."""
    return json.dumps(payload, indent=2).encode()


def signed_github(
    secret: str, event: str, payload: Json, delivery: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a GitHub delivery, signed as GitHub signs."""
    body = body_of(payload)
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "42",
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/abc123",
    }


def signed_gitea(
    secret: str, event: str, payload: Json, delivery: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a Gitea delivery: its own bare-hex signature and GitHub's."""
    body = body_of(payload)
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    delivery = delivery or str(uuid.uuid4())
    return body, {
        "X-Gitea-Event": event,
        "X-Gitea-Event-Type": event,
        "X-Gitea-Delivery": delivery,
        "X-Gitea-Signature": digest,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
    }


def signed_gitlab(
    secret: str, event: str, payload: Json, key: str | None = None, *, signing: bool = False
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a GitLab delivery: the secret token, or the Standard Webhooks signature.

    With `signing`, the request is signed by the `standardwebhooks` library with the
    secret as GitLab's signing token (and carries no X-Gitlab-Token).
    """
    body = body_of(payload)
    key = key or str(uuid.uuid4())
    headers = {
        "X-Gitlab-Event": event,
        "X-Gitlab-Event-UUID": str(uuid.uuid4()),
        "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
        "X-Gitlab-Instance": "https://gitlab.example.com",
        "Idempotency-Key": key,
        "Content-Type": "application/json",
    }
    if signing:
        from datetime import UTC, datetime

        stamp = int(time.time())
        signature = Webhook(secret).sign(key, datetime.fromtimestamp(stamp, UTC), body.decode())
        headers |= {
            "webhook-id": key,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature,
        }
    else:
        headers["X-Gitlab-Token"] = secret
    return body, headers
