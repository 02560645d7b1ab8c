"""Turning accepted webhook deliveries into runs: the worker behind `POST /hooks/<forge>`.

For each delivery in the inbox (app/forges/inbox.py), oldest first: fetch the pushed
ref into the repository's mirror (app/forges/mirror.py) with its clone credential,
read `.shiplog.yml` at exactly the pushed commit, check it, and if its `trigger`
matches (branch, event, changed paths) record RunQueued for that commit, as the forge
and repository. A runner then clones that commit (app/executor/checkout.py).

A delivery whose commit has no pipeline file, or whose pipeline is not triggered, is
done without a run, and says why; one whose pipeline file is invalid is done with the
problems (nothing can run it). A fetch that fails is tried again with growing pauses,
then given up. The run id is derived from the delivery, so a worker that dies after
queueing and before settling the delivery queues the same run again, which the ledger
refuses (the stream exists): no run is ever queued twice.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

from app.executor.grants import SandboxGrants
from app.executor.repositories import branch_of
from app.executor.secrets import SecretStore
from app.executor.source import SourceError
from app.forges.credentials import clone_auth
from app.forges.inbox import Claimed, DeliveryInbox
from app.forges.mirror import Mirror
from app.forges.registry import RepositoryStore
from app.pipeline import DEFAULT_SOURCE, PipelineError, parse_pipeline, pipeline_digest
from app.services.runs import queue_run
from events.catalogue import Metadata
from events.errors import WrongExpectedVersion
from events.store import EventStore
from events.vocabulary import RunQueued

LOG = logging.getLogger("shiplog.triggers")
NAMESPACE = uuid5(NAMESPACE_URL, "https://shiplog.dev/webhook-runs")
MAX_ATTEMPTS = 6
FIRST_PAUSE = timedelta(seconds=5)


@dataclass(frozen=True)
class TriggerOutcome:
    """What one delivery became: a run queued (its id) or why none was."""

    delivery: int
    outcome: str
    run_id: str | None = None


def process_next_delivery(
    store: EventStore, conninfo: str, mirrors: Path, keyring: Path | None
) -> TriggerOutcome | None:
    """Settle the oldest delivery that is due; None when none is."""
    with DeliveryInbox(conninfo).claim() as claimed:
        if claimed is None:
            return None
        try:
            return _settle(store, conninfo, mirrors, keyring, claimed)
        except SourceError as error:
            return _later(claimed, f"fetching the commit failed: {error}")
        except Exception as error:  # a bug must not make the delivery due again at once
            LOG.exception("settling webhook delivery %s failed", claimed.item.id)
            return _later(claimed, f"internal error ({type(error).__name__}); see the log")


def _later(claimed: Claimed, outcome: str) -> TriggerOutcome:
    attempts = claimed.item.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        claimed.failed(f"{outcome} (gave up after {attempts} attempts)")
    else:
        claimed.later(outcome, FIRST_PAUSE * 2 ** (attempts - 1))
    return TriggerOutcome(claimed.item.id, outcome)


def _settle(
    store: EventStore, conninfo: str, mirrors: Path, keyring: Path | None, claimed: Claimed
) -> TriggerOutcome:
    item, trigger = claimed.item, claimed.item.trigger
    repo = RepositoryStore(conninfo).get(item.repository)
    if repo is None:
        claimed.done("the repository is no longer registered")
        return TriggerOutcome(item.id, "the repository is no longer registered")
    auth = clone_auth(conninfo, repo.clone_url, keyring)
    mirror = Mirror(mirrors, repo.identity, repo.clone_url, auth)
    refs = [trigger.ref]
    if trigger.event == "pull_request" and trigger.branch:
        refs.append(f"refs/heads/{trigger.branch}")  # the base, for the changed files
    mirror.fetch(*refs)
    if not mirror.has(trigger.sha):
        return _later(claimed, f"commit {trigger.sha} is not in {trigger.ref} (yet)")

    def done(outcome: str, run_id: str | None = None) -> TriggerOutcome:
        claimed.done(outcome, [run_id] if run_id else [])
        return TriggerOutcome(item.id, outcome, run_id)

    text = mirror.file_at(trigger.sha, DEFAULT_SOURCE)
    if text is None:
        return done(f"no {DEFAULT_SOURCE} at {trigger.sha[:12]}: nothing to run")
    try:
        pipeline = parse_pipeline(
            text.decode("utf-8", "replace"),
            DEFAULT_SOURCE,
            # A fork's pull request gets no secrets: its file is not checked against them.
            known_secrets=None
            if trigger.untrusted
            else SecretStore(conninfo).names_for(repo.identity, branch_of(trigger.ref)),
            allowed_privileges=None
            if trigger.untrusted
            else SandboxGrants(conninfo).granted(repo.identity),
        )
    except PipelineError as error:
        return done(f"{DEFAULT_SOURCE} at {trigger.sha[:12]} is not valid: {error}")
    since = trigger.before if trigger.event != "pull_request" else _base(mirror, trigger.branch)
    changed = mirror.changed_files(since, trigger.sha)
    if not pipeline.triggered_by(branch=trigger.branch, event=trigger.event, changed=changed):
        return done(f"pipeline {pipeline.name!r} is not triggered by this {trigger.event}")
    queued = RunQueued(
        repository=repo.clone_url,
        commit=trigger.sha,
        ref=trigger.ref,
        commit_time=mirror.commit_time(trigger.sha),
        trigger=trigger.event,
        pipeline_path=DEFAULT_SOURCE,
        pipeline_digest=pipeline_digest(text),
        branch=trigger.branch if trigger.event == "pull_request" else None,
        untrusted=trigger.untrusted,
    )
    run_id = str(uuid5(NAMESPACE, f"{item.forge}\n{item.delivery}"))
    metadata = Metadata(
        actor=f"{item.forge}:{repo.identity}", source="webhook", causation_id=item.delivery
    )
    # An earlier attempt that died before settling the delivery may have queued it.
    with contextlib.suppress(WrongExpectedVersion):
        queue_run(store, queued, metadata, run_id=run_id)
    return done(f"queued run {run_id}", run_id)


def _base(mirror: Mirror, branch: str | None) -> str | None:
    """The fetched tip of a pull request's target branch, if the mirror has it."""
    if branch is None:
        return None
    ref = f"refs/shiplog/heads/{branch}"
    return ref if mirror.has(ref) else None


def work_deliveries(
    store: EventStore,
    conninfo: str,
    mirrors: Path,
    stop: threading.Event,
    *,
    keyring: Path | None,
    poll_seconds: float = 1.0,
) -> None:
    """Settle deliveries until `stop` is set; a failure is logged and the loop goes on."""
    while not stop.is_set():
        try:
            found = process_next_delivery(store, conninfo, mirrors, keyring)
        except Exception:  # one bad delivery must not stop the worker
            LOG.exception("settling a webhook delivery failed")
            found = None
        if found is None:
            stop.wait(poll_seconds)
        else:
            LOG.info("webhook delivery %s: %s", found.delivery, found.outcome)
