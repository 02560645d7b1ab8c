"""Web sign-in: sessions started from a token or a one-time link, and ended by signing out.

A session is a row of web_sessions (migrations/0026_web_sessions.sql) keyed by the
sha256 of a random secret that only the browser's cookie holds. It lasts a fixed
time, never beyond the token it was made from, and ends at once when the token is
revoked (app/queries/credentials.py joins them) or the visitor signs out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.credentials import LINK_PREFIX, MAX_SECRET_LENGTH, new_secret, secret_digest
from app.services.access import Role
from events.store import EventStore

LINK_LIFETIME = timedelta(hours=24)
# Ended and expired sessions are deleted when a new one starts, this long after they end.
KEEP_EXPIRED = timedelta(days=1)


@dataclass(frozen=True)
class NewSession:
    """A session just started: the cookie's secret (kept nowhere else) and when it ends."""

    secret: str
    actor: str
    expires_at: datetime


def start_session(
    store: EventStore,
    actor: str,
    roles: tuple[str, ...],
    lifetime: timedelta,
    *,
    token_id: str | None = None,
    token_expires_at: datetime | None = None,
) -> NewSession:
    """Sign `actor` in with `roles` for `lifetime` (not past the token's expiry)."""
    expires_at = datetime.now(UTC) + lifetime
    if token_expires_at is not None:
        expires_at = min(expires_at, token_expires_at)
    secret = new_secret()
    with store.transaction() as tx:
        tx.connection.execute(
            "DELETE FROM web_sessions WHERE expires_at < now() - %s", (KEEP_EXPIRED,)
        )
        tx.connection.execute(
            "INSERT INTO web_sessions (session_sha256, actor, roles, token_id, expires_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            (secret_digest(secret), actor, list(roles), token_id, expires_at),
        )
    return NewSession(secret, actor, expires_at)


def end_session(store: EventStore, secret: str) -> bool:
    """Sign out: forget the session whose cookie holds `secret`; False if there was none."""
    if len(secret) > MAX_SECRET_LENGTH:
        return False
    with store.connection() as conn:
        gone = conn.execute(
            "DELETE FROM web_sessions WHERE session_sha256 = %s", (secret_digest(secret),)
        )
        return gone.rowcount > 0


def create_signin_link(
    store: EventStore, actor: str, roles: frozenset[Role], lifetime: timedelta = LINK_LIFETIME
) -> str:
    """A one-time sign-in code for `actor` with `roles`, good for `lifetime`; shown once."""
    code = new_secret(LINK_PREFIX)
    with store.connection() as conn:
        conn.execute(
            "INSERT INTO signin_links (code_sha256, actor, roles, expires_at) "
            "VALUES (%s, %s, %s, now() + %s)",
            (secret_digest(code), actor, sorted(roles), lifetime),
        )
    return code


def redeem_signin_link(store: EventStore, code: str, lifetime: timedelta) -> NewSession | None:
    """Use a sign-in code once: a new session for whom it names; None if unknown, used or old."""
    if len(code) > MAX_SECRET_LENGTH:
        return None
    with store.connection() as conn:
        row = conn.execute(
            "UPDATE signin_links SET used_at = now() WHERE code_sha256 = %s "
            "AND used_at IS NULL AND expires_at > now() RETURNING actor, roles",
            (secret_digest(code),),
        ).fetchone()
    if row is None:
        return None
    actor, roles = row
    return start_session(store, actor, tuple(roles), lifetime)
