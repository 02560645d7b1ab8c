"""Notifications: targets an admin registers, rules that fill the outbox, delivery with retries.

- `add_target` / `remove_target`: admin actions, recorded in `notify-<target>`; a
  target's URL must be http(s), and loopback and private addresses are refused at every
  delivery unless the target explicitly allows them.
- `match_new_events`: reads the ledger after its cursor, turns each event a rule names
  into a notice (`notice_for`), keeps it only when its subject's state changed (storm
  control: an approval that keeps waiting is told once), and puts it in the outbox,
  grouped with the rule's other notices for that target within `group_seconds`. Runs of
  repositories registered with commit statuses also get one, for the forge.
- `deliver_next`: sends the oldest message due (app/notify/sender.py), then records
  NotificationSent, or NotificationFailed and when it is tried again: exponential
  backoff with jitter up to a cap, `Retry-After` honoured, a 410 disables the target,
  other 4xx and used-up attempts give up. Messages wait in a table, so a restart loses
  none; a message is claimed with FOR UPDATE SKIP LOCKED, so two workers never send one
  twice at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

from app.executor.secrets import MissingSecrets, SecretStore
from app.forges.credentials import basic_auth
from app.forges.registry import Repository, RepositoryStore
from app.notify.addresses import AddressRefused, check_url, origin
from app.notify.backoff import Backoff
from app.notify.messages import Notice, body_digest, slack_body, webhook_body
from app.notify.rules import Rule, at_least, load_rules
from app.notify.sender import SendResult, post
from app.notify.store import (
    ClaimedMessage,
    Message,
    NoticeStates,
    Outbox,
    RulesCursor,
    TargetStore,
)
from app.pipeline.fields import glob_match
from app.queries.supplychain import (
    FindingsNotStored,
    ImageFinding,
    running_places,
    scan_findings,
)
from app.repo_identity import clone_secret_name, comparable_repository
from app.services.errors import FieldProblem, NotRegistered
from app.standard_webhooks import secret_key, signature_header
from events.catalogue import Metadata
from events.store import ANY, Cursor, EventStore, RecordedEvent
from events.vocabulary import (
    Finding,
    NotificationFailed,
    NotificationSent,
    NotificationTargetAdded,
    NotificationTargetDisabled,
    NotificationTargetRemoved,
    RunQueued,
    ScanCompleted,
)

LOG = logging.getLogger("shiplog.notify")
DELIVERER = Metadata(actor="shiplog:notifier", source="notify")
STATUS_PREFIX = "status:"
KINDS = ("slack", "webhook")
RUN_OUTCOMES = {"RunSucceeded": "success", "RunFailed": "failure", "RunCancelled": "error"}


# --- targets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetRequest:
    """A target an admin registers: its name, kind, URL and (webhooks) signing secrets."""

    name: str
    kind: str
    url: str
    secrets: tuple[str, ...] = ()
    allow_private: bool = False

    def __repr__(self) -> str:
        return f"<TargetRequest {self.name} ({self.kind})>"


def add_target(
    store: EventStore, conninfo: str, request: TargetRequest, metadata: Metadata
) -> None:
    """Register (or replace) a notification target as `metadata.actor`."""
    if request.kind not in KINDS:
        raise FieldProblem("kind", f"one of {', '.join(KINDS)}, not {request.kind!r}")
    try:
        check_url(request.url)
    except AddressRefused as refused:
        raise FieldProblem("url", str(refused)) from None
    if request.kind == "slack" and request.secrets:
        raise FieldProblem("secrets", "Slack incoming webhooks are not signed: give no secret")
    for secret in request.secrets:
        try:
            secret_key(secret)
        except ValueError as error:
            raise FieldProblem("secrets", str(error)) from None
    stream = f"notify-{request.name}"
    TargetStore(conninfo).save(
        request.name,
        kind=request.kind,
        url=request.url,
        secrets=request.secrets,
        allow_private=request.allow_private,
        actor=metadata.actor,
    )
    added = NotificationTargetAdded(
        target=request.name,
        kind=request.kind,
        origin=origin(request.url),
        signed=bool(request.secrets),
        allow_private=request.allow_private,
    )
    store.append(stream, [added], ANY, metadata)


def remove_target(store: EventStore, conninfo: str, name: str, metadata: Metadata) -> None:
    """Remove a target; what waits for it is dropped."""
    if not TargetStore(conninfo).delete(name):
        raise NotRegistered(f"no notification target {name!r}")
    store.append(f"notify-{name}", [NotificationTargetRemoved(target=name)], ANY, metadata)


# --- rules: events into the outbox -----------------------------------------------------


@dataclass(frozen=True)
class Described:
    """An event as a notice, with the subject and state storm control compares."""

    notice: Notice
    environment: str | None = None
    branch: str | None = None
    repository: str | None = None


def notice_for(store: EventStore, event: RecordedEvent, public_url: str) -> Described | None:
    """What an event tells: a notice about its subject in a state (None: nothing to tell)."""
    base = public_url.rstrip("/")
    category, _, ident = event.stream.partition("-")
    name = event.type_name
    data = event.data.model_dump(mode="json")
    if category == "run":
        queued = _queued(store, event.stream)
        branch = _branch(queued)
        where = f"{queued.repository}@{branch or queued.ref}" if queued else ident
        state = RUN_OUTCOMES.get(name, name)
        reason = f": {data['reason']}" if data.get("reason") else ""
        notice = Notice(
            event=name,
            subject=f"pipeline {queued.pipeline_path if queued else '?'} of {where}",
            state=state,
            title=f"Run {ident[:8]} of {where}: {state}{reason}",
            text=f"commit {queued.commit[:12]}, {queued.trigger}" if queued else "",
            link=f"{base}/runs/{ident}",
            position=event.position,
        )
        return Described(notice, branch=branch, repository=queued.repository if queued else None)
    if category == "env":
        service = data.get("service")
        digest = data.get("image_digest")
        detail = ", ".join(f"{k} {v}" for k, v in data.items() if isinstance(v, str) and
                           k in ("image_digest", "reason", "deployment_id"))  # fmt: skip
        notice = Notice(
            event=name,
            subject=f"{ident}/{service}" if service else ident,
            state=f"{name}:{digest}" if digest else name,
            title=f"{name} in {ident}" + (f": {service}" if service else ""),
            text=detail,
            link=f"{base}/environments/{ident}",
            position=event.position,
        )
        return Described(notice, environment=ident)
    notice = Notice(
        event=name,
        subject=event.stream,
        state=name,
        title=f"{name} in {event.stream}",
        text=", ".join(f"{k} {v}" for k, v in data.items() if isinstance(v, str | int))[:500],
        link=f"{base}/?stream={event.stream}",
        position=event.position,
    )
    return Described(notice)


def _queued(store: EventStore, stream: str) -> RunQueued | None:
    first = store.read_stream(stream)[:1]
    return first[0].data if first and isinstance(first[0].data, RunQueued) else None


def _branch(queued: RunQueued | None) -> str | None:
    if queued is None:
        return None
    if queued.branch:
        return queued.branch
    return queued.ref.removeprefix("refs/heads/") if queued.ref.startswith("refs/heads/") else None


def _critical(
    store: EventStore, event: RecordedEvent, rule: Rule, public_url: str
) -> Notice | None:
    """A scan's grave findings of an image (that runs somewhere, if the rule says so)."""
    scan = event.data
    assert isinstance(scan, ScanCompleted)
    try:
        findings: Sequence[ImageFinding | Finding] = scan_findings(store, [scan])[0]
    except FindingsNotStored:  # its document is missing: the gating findings are all we have
        findings = scan.gating
    grave = sorted({f.advisory for f in findings if at_least(f.severity, rule.severity)})
    if not grave:
        return None
    places = running_places(store, scan.image_digest)
    if rule.running_only and not places:
        return None
    where = f" (runs in {', '.join(places)})" if places else ""
    return Notice(
        event=event.type_name,
        subject=f"image {scan.image_digest}",
        state=",".join(grave),
        title=f"{len(grave)} {rule.severity}+ finding(s) in {scan.image_digest[:19]}{where}",
        text=", ".join(grave[:20]),
        link=f"{public_url.rstrip('/')}/images/{scan.image_digest}",
        position=event.position,
    )


def _rule_notice(
    store: EventStore, event: RecordedEvent, rule: Rule, public_url: str
) -> Notice | None:
    if event.type_name == ScanCompleted.type_name:
        return _critical(store, event, rule, public_url)
    described = notice_for(store, event, public_url)
    if described is None:
        return None
    if rule.environments and described.environment not in rule.environments:
        return None
    if rule.branches and not (
        described.branch and any(glob_match(g, described.branch) for g in rule.branches)
    ):
        return None
    return described.notice


def match_new_events(
    store: EventStore,
    conninfo: str,
    rules: Sequence[Rule],
    public_url: str,
    *,
    limit: int = 500,
) -> int:
    """Turn the events after the cursor into outbox messages; how many events were read.

    The first look starts at the ledger's head: history is not announced.
    """
    cursors = RulesCursor(conninfo)
    at = cursors.get()
    if at is None:
        head = store.head()
        cursors.set(head.tx_id, head.position)
        return 0
    wanted = {name for rule in rules for name in rule.events} | set(RUN_OUTCOMES) | {"RunClaimed"}
    events = store.read_all(Cursor(*at), limit, types=sorted(wanted))
    outbox, states = Outbox(conninfo), NoticeStates(conninfo)
    repositories = RepositoryStore(conninfo)
    for event in events:
        for rule in rules:
            if event.type_name not in rule.events:
                continue
            notice = _rule_notice(store, event, rule, public_url)
            if notice is None:
                continue
            if not rule.every_time and not states.changed(rule.name, notice.subject, notice.state):
                continue
            for target in rule.targets:
                group = f"{rule.name}" if rule.group_seconds else None
                delay = timedelta(seconds=rule.group_seconds)
                outbox.add(target, notice, rule=rule.name, group_key=group, delay=delay)
        _commit_status(store, repositories, outbox, event, public_url)
    if events:
        cursors.set(events[-1].tx_id, events[-1].position)
    return len(events)


def _commit_status(
    store: EventStore,
    repositories: RepositoryStore,
    outbox: Outbox,
    event: RecordedEvent,
    public_url: str,
) -> None:
    """A commit status for a run of a repository registered with commit statuses."""
    if not event.stream.startswith("run-") or event.type_name not in (*RUN_OUTCOMES, "RunClaimed"):
        return
    queued = _queued(store, event.stream)
    if queued is None:
        return
    repo = repositories.get(comparable_repository(queued.repository))
    if repo is None or not repo.commit_status:
        return
    state = RUN_OUTCOMES.get(event.type_name, "pending")
    run_id = event.stream.removeprefix("run-")
    words = {
        "pending": "running",
        "success": "succeeded",
        "failure": "failed",
        "error": "cancelled",
    }
    notice = Notice(
        event=event.type_name,
        subject=f"{repo.identity}@{queued.commit}",
        state=state,
        title=f"{words[state]} ({run_id[:8]})",
        text=f"shiplog/{queued.pipeline_path}",
        link=f"{public_url.rstrip('/')}/runs/{run_id}",
        position=event.position,
    )
    outbox.add(f"{STATUS_PREFIX}{repo.identity}", notice, rule=None)


# --- delivery --------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """How one delivery attempt went, as recorded."""

    message_id: str
    target: str
    status: int | None
    sent: bool
    final: bool
    reason: str | None = None


def deliver_next(
    store: EventStore,
    conninfo: str,
    backoff: Backoff,
    *,
    timeout: float,
    keyring: Path | None,
    due_by: datetime | None = None,
) -> Attempt | None:
    """Send the oldest message due (by `due_by`, default now), record how it went; None: none."""
    with Outbox(conninfo).claim(due_by) as claimed:
        if claimed is None:
            return None
        message = claimed.message
        if message.target.startswith(STATUS_PREFIX):
            prepared = _status_request(conninfo, message.target, message.notices[-1], keyring)
        else:
            prepared = _target_request(conninfo, message.target, message)
        if isinstance(prepared, str):  # nowhere to send it any more
            claimed.settle(state="dropped", status=None, error=prepared)
            return Attempt(message.message_id, message.target, None, False, True, prepared)
        url, body, headers, allow_private = prepared
        answer = post(url, body, headers, timeout=timeout, allow_private=allow_private)
        attempt = _record(store, claimed, backoff, answer, body)
    if answer.status == 410 and not attempt.target.startswith(STATUS_PREFIX):
        # After the claim's transaction: disabling drops the target's pending messages,
        # this one among them, which the claim held locked until now.
        why = "the receiver answered 410 Gone"
        TargetStore(conninfo).disable(attempt.target, why)
        disabled = NotificationTargetDisabled(target=attempt.target, reason=why)
        store.append(_stream(attempt.target), [disabled], ANY, DELIVERER)
    return attempt


Prepared = tuple[str, bytes, dict[str, str], bool]


def _target_request(conninfo: str, name: str, message: Message) -> Prepared | str:
    target = TargetStore(conninfo).get(name)
    if target is None:
        return f"no target {name!r}"
    if target.disabled:
        return f"target {name!r} is disabled: {target.disabled}"
    headers = {"Content-Type": "application/json"}
    if target.kind == "slack":
        body = slack_body(message.notices)
    else:
        body = webhook_body(message.message_id, message.created_at, message.rule, message.notices)
        headers["webhook-id"] = message.message_id
        stamp = int(time.time())
        headers["webhook-timestamp"] = str(stamp)
        if target.secrets:
            headers["webhook-signature"] = signature_header(
                target.secrets, message.message_id, stamp, body
            )
    return target.url, body, headers, target.allow_private


def _status_request(
    conninfo: str, target: str, notice: Notice, keyring: Path | None
) -> Prepared | str:
    """The forge API request that sets a commit status (GitHub, Gitea or GitLab)."""
    identity = target.removeprefix(STATUS_PREFIX)
    repo = RepositoryStore(conninfo).get(identity)
    if repo is None or not repo.commit_status:
        return f"{identity} no longer reports commit statuses"
    try:
        credential = SecretStore(conninfo, keyring).values(
            [clone_secret_name(identity)], identity, None
        )
    except MissingSecrets:
        return f"{identity} has no credential for its forge's API"
    token = basic_auth(credential[clone_secret_name(identity)], repo.forge)[1]
    sha = notice.subject.rsplit("@", 1)[1]
    api = (repo.api_url or default_api_url(repo)).rstrip("/")
    path = identity.split("/", 1)[1]
    fields = {"target_url": notice.link, "description": notice.title, "context": notice.text}
    headers = {"Content-Type": "application/json"}
    if repo.forge == "gitlab":
        state = {"failure": "failed", "error": "canceled"}.get(notice.state, notice.state)
        url = f"{api}/projects/{quote(path, safe='')}/statuses/{sha}"
        body = {"state": state, "name": fields.pop("context"), **fields}
        headers["PRIVATE-TOKEN"] = token
    else:
        url = f"{api}/repos/{path}/statuses/{sha}"
        body = {"state": notice.state, **fields}
        headers["Authorization"] = f"{'Bearer' if repo.forge == 'github' else 'token'} {token}"
    # A self-hosted forge on a private network is normal: its own API may be private too.
    same_host = urlsplit(url).hostname == urlsplit(repo.clone_url).hostname
    return url, json.dumps(body, sort_keys=True).encode(), headers, same_host


def default_api_url(repo: Repository) -> str:
    """The forge API a repository's clone URL implies (GitHub, GitHub Enterprise, Gitea, GitLab)."""
    parts = urlsplit(repo.clone_url)
    scheme = "http" if parts.scheme == "http" else "https"
    host = parts.hostname or ""
    if repo.forge == "github":
        return (
            "https://api.github.com"
            if host == "github.com"
            else f"{scheme}://{parts.netloc}/api/v3"
        )
    suffix = "/api/v1" if repo.forge == "gitea" else "/api/v4"
    return f"{scheme}://{parts.netloc}{suffix}"


def _record(
    store: EventStore,
    claimed: ClaimedMessage,
    backoff: Backoff,
    answer: SendResult,
    body: bytes,
) -> Attempt:
    message = claimed.message
    attempt = message.attempts + 1
    digest = body_digest(body)
    stream = _stream(message.target)
    if answer.ok:
        assert answer.status is not None
        claimed.settle(state="sent", status=answer.status, error=None)
        sent = NotificationSent(
            target=message.target,
            message_id=message.message_id,
            rule=message.rule,
            subject=message.subject,
            attempt=attempt,
            status=answer.status,
            body_sha256=digest,
            items=len(message.notices),
        )
        store.append(stream, [sent], ANY, DELIVERER)
        return Attempt(message.message_id, message.target, answer.status, True, True)
    reason = answer.error or f"HTTP {answer.status}"
    gone = answer.status == 410
    refused = answer.status is not None and 400 <= answer.status < 500 and answer.status not in (
        408, 409, 425, 429)  # fmt: skip
    final = gone or refused or answer.refused or attempt >= backoff.attempts
    retry_at = None
    if final:
        claimed.settle(state="failed", status=answer.status, error=reason)
    else:
        delay = backoff.delay(attempt, answer.retry_after)
        retry_at = datetime.now(UTC) + timedelta(seconds=delay)
        claimed.settle(
            state="pending", status=answer.status, error=reason, delay=timedelta(seconds=delay)
        )
    failed = NotificationFailed(
        target=message.target,
        message_id=message.message_id,
        rule=message.rule,
        subject=message.subject,
        attempt=attempt,
        status=answer.status,
        body_sha256=digest,
        reason=reason,
        final=final,
        retry_at=retry_at,
    )
    store.append(stream, [failed], ANY, DELIVERER)
    return Attempt(message.message_id, message.target, answer.status, False, final, reason)


def _stream(target: str) -> str:
    """`notify-<target>`; a commit status's goes to `notify-status:<repository>`."""
    return f"notify-{target}"


# --- the worker ------------------------------------------------------------------------


def notification_backoff(attempts: int, base: float, cap: float) -> Backoff:
    """The retry schedule the settings ask for."""
    return Backoff(base=base, cap=cap, attempts=attempts)


def work_notifications(
    store: EventStore,
    conninfo: str,
    *,
    rules_file: Path | None,
    public_url: str,
    backoff: Backoff,
    timeout: float,
    stop: threading.Event,
    keyring: Path | None,
    poll_seconds: float = 1.0,
) -> None:
    """Match events to rules and deliver messages until `stop`; failures are logged, not fatal."""
    rules = load_rules(rules_file)
    while not stop.is_set():
        busy = False
        try:
            busy = match_new_events(store, conninfo, rules, public_url) > 0
            while not stop.is_set() and deliver_next(
                store, conninfo, backoff, timeout=timeout, keyring=keyring
            ):
                busy = True
        except Exception:  # one bad message or event must not stop the worker
            LOG.exception("notification work failed")
        if not busy:
            stop.wait(poll_seconds)
