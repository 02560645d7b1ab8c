"""Registered repositories and what their webhooks delivered, for the API, the page and the CLI.

Secrets never leave here: a repository's view says whether it has a clone credential,
never the credential or the webhook secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from app.forges.registry import RepositoryStore
from app.repo_identity import clone_secret_name

RECENT_DELIVERIES = 20


@dataclass(frozen=True)
class RepositoryView:
    """A registered repository as shown: no secret, only whether a credential is stored."""

    identity: str
    forge: str
    clone_url: str
    api_url: str | None
    commit_status: bool
    credential: bool
    registered_at: datetime
    registered_by: str


@dataclass(frozen=True)
class DeliveryView:
    """One accepted webhook delivery and what became of it."""

    id: int
    repository: str
    forge: str
    delivery: str
    event: str
    ref: str
    sha: str
    received_at: datetime
    state: str
    attempts: int
    outcome: str | None
    runs: tuple[str, ...]


def list_repositories(
    conninfo: str, *, after: str | None = None, limit: int | None = None
) -> list[RepositoryView]:
    """The registered repositories by identity: those after `after`, at most `limit`."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        stored = {row[0] for row in conn.execute("SELECT name FROM secrets").fetchall()}
    return [
        RepositoryView(
            identity=repo.identity,
            forge=repo.forge,
            clone_url=repo.clone_url,
            api_url=repo.api_url,
            commit_status=repo.commit_status,
            credential=clone_secret_name(repo.identity) in stored,
            registered_at=repo.registered_at,
            registered_by=repo.registered_by,
        )
        for repo in RepositoryStore(conninfo).all(after=after, limit=limit)
    ]


def recent_deliveries(
    conninfo: str, repository: str | None = None, limit: int = RECENT_DELIVERIES
) -> list[DeliveryView]:
    """The latest accepted webhook deliveries (of one repository), newest first."""
    where, params = ("WHERE repository = %s", [repository]) if repository else ("", [])
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id, repository, forge, delivery, event, trigger->>'ref', "
            "trigger->>'sha', received_at, state, attempts, outcome, runs "
            f"FROM webhook_deliveries {where} ORDER BY id DESC LIMIT %s",
            [*params, limit],
        ).fetchall()
    return [
        DeliveryView(
            id=row[0],
            repository=row[1],
            forge=row[2],
            delivery=row[3],
            event=row[4],
            ref=row[5] or "",
            sha=row[6] or "",
            received_at=row[7],
            state=row[8],
            attempts=row[9],
            outcome=row[10],
            runs=tuple(row[11]),
        )
        for row in rows
    ]
