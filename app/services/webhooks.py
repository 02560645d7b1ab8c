"""Receiving a forge's webhook: prove it, record the push, queue the work, answer at once.

`receive_webhook` reads the repository a request claims, finds it among the registered
ones, and checks the forge's signature rule on the raw body with that repository's
secret (app/forges/signatures.py). A request that does not prove itself is answered 401
and recorded as WebhookRejected (forge, repository, delivery id, reason; never the body
or the secret), at a limited rate so that a flood cannot fill the ledger.

A proven push appends CommitsPushed to `repo-<identity>` (its event id derived from the
repository, ref and shas, so a redelivery or a replay records nothing new) and adds the
trigger to the inbox (app/forges/inbox.py); the worker (app/services/triggers.py) then
reads the commit's pipeline and queues runs. The actor of all of it is the forge and
the repository, e.g. `github:github.com/acme/web`: the secret proved the sender, not a
header.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from uuid import NAMESPACE_URL, uuid5

from app.forges.inbox import DeliveryInbox, TriggerRequest
from app.forges.payloads import (
    Delivery,
    Ignored,
    Malformed,
    Ping,
    PullRequest,
    Push,
    read_delivery,
    repository_urls,
)
from app.forges.registry import FORGES, Forge, RepositoryStore
from app.forges.signatures import gitea_refusal, github_refusal, gitlab_refusal
from app.repo_identity import NotARepository, canonical_repository
from app.services.idempotency import append_once
from events.catalogue import Metadata
from events.store import ANY, EventStore
from events.vocabulary import Commit, CommitsPushed, WebhookRejected

SOURCE = "webhook"
NAMESPACE = uuid5(NAMESPACE_URL, "https://shiplog.dev/webhooks")
MAX_DELIVERY_ID = 200

REFUSALS: dict[str, Callable[[str, Mapping[str, str], bytes], str | None]] = {
    "github": github_refusal,
    "gitea": gitea_refusal,
    "gitlab": gitlab_refusal,
}


@dataclass
class RejectionLimiter:
    """Token buckets: how many WebhookRejected may be recorded, per repository and in all.

    Each key may record `burst` at once and one more every `60 / per_minute` seconds; all
    keys together at most `total_per_minute`. What is not recorded is counted and the
    count goes with the next one recorded for that key (`suppressed`).
    """

    burst: float = 5
    per_minute: float = 6
    total_per_minute: float = 60
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _suppressed: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, key: str) -> int | None:
        """None if a rejection for `key` is not to be recorded now; else how many were not."""
        with self._lock:
            now = self.clock()
            if not (self._take("*", now, self.total_per_minute, self.total_per_minute)
                    and self._take(key, now, self.burst, self.per_minute)):  # fmt: skip
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return None
            return self._suppressed.pop(key, 0)

    def _take(self, key: str, now: float, burst: float, per_minute: float) -> bool:
        tokens, then = self._buckets.get(key, (burst, now))
        tokens = min(burst, tokens + (now - then) * per_minute / 60)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        return True


@dataclass(frozen=True)
class WebhookAnswer:
    """What to answer the forge: an HTTP status and a small JSON body."""

    status: int
    body: dict[str, Any]


def receive_webhook(
    store: EventStore,
    conninfo: str,
    forge: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    client: str,
    limiter: RejectionLimiter,
) -> WebhookAnswer:
    """Prove, record and queue one webhook request; see the module docstring."""
    if forge not in FORGES:
        return WebhookAnswer(404, {"detail": f"no webhook endpoint for {forge!r}"})
    lower = {name.lower(): value for name, value in headers.items()}
    claimed = _delivery_header(forge, lower)
    refusal = _Refusal(store, limiter, forge, claimed, client)
    payload = _payload(lower, body)
    if payload is None:
        return refusal.answer(None, "the body is not a JSON object", status=400)
    identity = _claimed_identity(forge, payload)
    if identity is None:
        return refusal.answer(None, "the payload names no repository")
    repo = RepositoryStore(conninfo).get(identity)
    if repo is None:
        return refusal.answer(identity, "repository not registered")
    if repo.forge != forge:
        return refusal.answer(identity, f"repository is registered as a {repo.forge} repository")
    reason = REFUSALS[forge](repo.webhook_secret, lower, body)
    if reason is not None:
        return refusal.answer(identity, reason, registered=True)
    try:
        delivery = read_delivery(repo.forge, lower, payload, body)
    except Malformed as error:
        return WebhookAnswer(400, {"detail": str(error)})
    return _accept(store, conninfo, delivery, identity)


def _accept(store: EventStore, conninfo: str, delivery: Delivery, identity: str) -> WebhookAnswer:
    what = delivery.what
    if isinstance(what, Ping):
        return WebhookAnswer(200, {"ping": "ok", "repository": identity})
    if isinstance(what, Ignored):
        return WebhookAnswer(202, {"ignored": what.why})
    metadata = Metadata(
        actor=f"{delivery.forge}:{identity}", source=SOURCE, correlation_id=delivery.delivery
    )
    if isinstance(what, Push):
        if what.event == "push" and what.commits:
            _record_push(store, delivery, identity, what, metadata)
        trigger = TriggerRequest(
            event=what.event, ref=what.ref, sha=what.sha, branch=what.branch, before=what.before
        )
    else:
        trigger = _pull_trigger(what)
    # Gitea's manual replay sends the same push under a new delivery id.
    content_key = f"{trigger.ref}@{trigger.sha}" if delivery.forge == "gitea" else None
    row = DeliveryInbox(conninfo).add(
        forge=delivery.forge,
        repository=identity,
        delivery=delivery.delivery,
        content_key=content_key,
        trigger=trigger,
    )
    if row is None:
        return WebhookAnswer(200, {"duplicate": True, "delivery": delivery.delivery})
    return WebhookAnswer(202, {"accepted": row, "repository": identity, "event": trigger.event})


def _pull_trigger(what: PullRequest) -> TriggerRequest:
    return TriggerRequest(
        event="pull_request",
        ref=what.fetch_ref,
        sha=what.sha,
        branch=what.target_branch,
        base_sha=what.base_sha,
        untrusted=what.fork,
        number=what.number,
    )


def _record_push(
    store: EventStore, delivery: Delivery, identity: str, push: Push, metadata: Metadata
) -> None:
    """CommitsPushed, once per repository, ref and shas however often it is delivered."""
    event = CommitsPushed(
        repository=identity,
        ref=push.ref,
        commits=tuple(
            Commit(sha=c.sha, authored_at=c.authored_at, author=c.author) for c in push.commits
        ),
        forge=delivery.forge,
        before=push.before,
        after=push.after,
    )
    event_id = uuid5(NAMESPACE, f"{identity}\n{push.ref}\n{push.before}\n{push.after}")
    append_once(store, f"repo-{identity}", [(event, event_id)], metadata, "push")


def _payload(headers: Mapping[str, str], body: bytes) -> dict[str, Any] | None:
    """The JSON payload: the body, or its `payload` field when the forge sent a form."""
    text = body
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        fields = parse_qs(body.decode("utf-8", "replace"))
        text = fields.get("payload", [""])[0].encode()
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def _claimed_identity(forge: Forge, payload: Mapping[str, Any]) -> str | None:
    for url in repository_urls(forge, payload):
        try:
            return canonical_repository(url)
        except NotARepository:
            continue
    return None


def _delivery_header(forge: str, headers: Mapping[str, str]) -> str | None:
    names = {
        "github": ("x-github-delivery",),
        "gitea": ("x-gitea-delivery", "x-github-delivery"),
        "gitlab": ("idempotency-key", "webhook-id", "x-gitlab-event-uuid"),
    }[forge]
    for name in names:
        value = "".join(ch for ch in headers.get(name, "") if ch.isprintable()).strip()
        if value:
            return value[:MAX_DELIVERY_ID]
    return None


@dataclass(frozen=True)
class _Refusal:
    """Answers a request that did not prove itself, recording it when the limiter admits."""

    store: EventStore
    limiter: RejectionLimiter
    forge: str
    delivery: str | None
    client: str

    def answer(
        self, identity: str | None, reason: str, *, status: int = 401, registered: bool = False
    ) -> WebhookAnswer:
        suppressed = self.limiter.admit(identity or f"{self.forge}:unnamed")
        if suppressed is not None:
            # Only a registered repository's stream takes rejections: an unproven request
            # must not open streams of its choosing.
            stream = f"repo-{identity}" if registered else f"hooks-{self.forge}"
            rejected = WebhookRejected(
                forge=self.forge,
                repository=identity,
                delivery=self.delivery,
                reason=reason,
                suppressed=suppressed,
            )
            actor = f"webhook:{self.forge}@{self.client}"
            self.store.append(stream, [rejected], ANY, Metadata(actor=actor, source=SOURCE))
        return WebhookAnswer(status, {"detail": reason})
