"""Recognising credentials: a token's or a session's secret → who it is and what it may do.

The writers are app/services/tokens.py and app/services/sessions.py; both sides
agree on the digest through app/credentials.py. A secret is looked up by its
sha256; the tables never hold a secret itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.credentials import MAX_SECRET_LENGTH, secret_digest
from events.retry import retrying
from events.store import EventStore

TOKEN = "token"
SESSION = "session"


def _one_row(store: EventStore, query: str, params: tuple[Any, ...]) -> Any:
    """The first row `query` answers, asked again while the database is away (a restart).

    Every request is authenticated first, so a lost connection here would turn any
    request (a live page reconnecting included) into a server error.
    """

    def ask() -> Any:
        with store.connection() as conn:
            return conn.execute(query, params).fetchone()

    return retrying(ask, store.retry_seconds, what="credential look-up")


class CredentialRefused(Exception):
    """A credential was presented but is not good: unknown, revoked or expired (HTTP: 401)."""


@dataclass(frozen=True)
class Credential:
    """Who a good credential stands for: the actor, its role names, and its kind."""

    actor: str
    roles: tuple[str, ...]
    kind: str  # TOKEN or SESSION
    token_id: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class TokenInfo:
    """One token as `shiplog token list` shows it (never its secret)."""

    token_id: str
    name: str
    roles: tuple[str, ...]
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    live: bool


def token_credential(store: EventStore, secret: str) -> Credential:
    """The credential a token's secret stands for; CredentialRefused saying why not."""
    if len(secret) > MAX_SECRET_LENGTH:
        raise CredentialRefused("the token is not one this server made")
    row = _one_row(
        store,
        "SELECT token_id, name, roles, expires_at, revoked_at, expires_at <= now() "
        "FROM access_tokens WHERE secret_sha256 = %s",
        (secret_digest(secret),),
    )
    if row is None:
        raise CredentialRefused("the token is not one this server made")
    token_id, name, roles, expires_at, revoked_at, expired = row
    if revoked_at is not None:
        raise CredentialRefused(f"the token {name!r} was revoked at {revoked_at.isoformat()}")
    if expired:
        raise CredentialRefused(f"the token {name!r} expired at {expires_at.isoformat()}")
    return Credential(name, tuple(roles), TOKEN, str(token_id), expires_at)


def session_credential(store: EventStore, secret: str) -> Credential | None:
    """The signed-in session a cookie's secret stands for; None if it is over or unknown.

    A session made from a token ends with it: revoked or expired, the session is over.
    """
    if len(secret) > MAX_SECRET_LENGTH:
        return None
    row = _one_row(
        store,
        "SELECT s.actor, s.roles, s.token_id, s.expires_at FROM web_sessions s "
        "LEFT JOIN access_tokens t USING (token_id) "
        "WHERE s.session_sha256 = %s AND s.expires_at > now() "
        "AND (s.token_id IS NULL OR (t.revoked_at IS NULL "
        "     AND (t.expires_at IS NULL OR t.expires_at > now())))",
        (secret_digest(secret),),
    )
    if row is None:
        return None
    actor, roles, token_id, expires_at = row
    return Credential(actor, tuple(roles), SESSION, None if token_id is None else str(token_id),
                      expires_at)  # fmt: skip


def live_tokens(store: EventStore) -> int:
    """How many tokens work now (neither revoked nor expired)."""
    with store.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM access_tokens WHERE revoked_at IS NULL "
            "AND (expires_at IS NULL OR expires_at > now())"
        ).fetchone()
    return int(row[0]) if row else 0


def list_tokens(store: EventStore, *, include_revoked: bool = False) -> list[TokenInfo]:
    """Every token (live ones only, unless `include_revoked`), oldest first."""
    where = "" if include_revoked else "WHERE revoked_at IS NULL"
    with store.connection() as conn:
        rows = conn.execute(
            "SELECT token_id, name, roles, created_at, created_by, expires_at, revoked_at, "
            "revoked_by, revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) "
            f"FROM access_tokens {where} ORDER BY created_at, token_id"
        ).fetchall()
    return [
        TokenInfo(str(r[0]), r[1], tuple(r[2]), r[3], r[4], r[5], r[6], r[7], bool(r[8]))
        for r in rows
    ]
