"""Each forge's rule for proving a webhook came from it, checked on the raw body in constant time.

- GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>` under the secret.
- Gitea: `X-Gitea-Signature: <hex HMAC-SHA256>`, bare (it also sends GitHub's header).
- GitLab: `X-Gitlab-Token` equal to the secret token, and/or, with a signing token, the
  Standard Webhooks headers (app/standard_webhooks.py). Whatever is sent must hold.

Each check returns None when the request is proven, else the reason to refuse it. A
reason never quotes the secret or the body.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from app.standard_webhooks import SignatureRefused, verify

WantedHeaders = Mapping[str, str]


def hmac_hex(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `body` under `secret` (its UTF-8 bytes), as GitHub and Gitea sign."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode("utf-8", "replace"))


def github_refusal(secret: str, headers: WantedHeaders, body: bytes) -> str | None:
    """Why a GitHub delivery is not proven (None: it is)."""
    given = headers.get("x-hub-signature-256")
    if not given:
        return "no X-Hub-Signature-256 header"
    algorithm, _, digest = given.partition("=")
    if algorithm != "sha256" or not digest:
        return "X-Hub-Signature-256 is not sha256=<hex>"
    return None if _same(hmac_hex(secret, body), digest) else "signature does not match"


def gitea_refusal(secret: str, headers: WantedHeaders, body: bytes) -> str | None:
    """Why a Gitea delivery is not proven (None: it is)."""
    given = headers.get("x-gitea-signature")
    if given is None:
        return (
            github_refusal(secret, headers, body)
            if "x-hub-signature-256" in headers
            else ("no X-Gitea-Signature header")
        )
    return None if _same(hmac_hex(secret, body), given) else "signature does not match"


def gitlab_refusal(
    secret: str, headers: WantedHeaders, body: bytes, *, now: datetime | None = None
) -> str | None:
    """Why a GitLab delivery is not proven (None: it is)."""
    token = headers.get("x-gitlab-token")
    signed = "webhook-signature" in headers
    if token is None and not signed:
        return "no X-Gitlab-Token or webhook-signature header"
    if token is not None and not hmac.compare_digest(
        token.encode("utf-8", "replace"), secret.encode()
    ):
        return "X-Gitlab-Token does not match"
    if signed:
        try:
            verify(secret, headers, body, now=now)
        except SignatureRefused as refused:
            return f"webhook-signature: {refused}"
    return None
