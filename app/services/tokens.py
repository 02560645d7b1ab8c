"""API tokens: make one (its secret shown once), revoke them, as an actor.

A token's name is the actor of everything done with it; its roles say what it may
do. The access_tokens table (migrations/0025_access_tokens.sql) keeps its sha256,
never the secret; TokenCreated and TokenRevoked record in `token-<name>` who made
and revoked it, in the same transaction as the row.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from app.credentials import TOKEN_PREFIX, new_secret, secret_digest
from app.services.access import Role
from app.services.errors import FieldProblem
from app.velocity.periods import age_length
from events.catalogue import Metadata
from events.store import ANY, EventStore
from events.vocabulary import TokenCreated, TokenRevoked

MAX_NAME_LENGTH = 100  # `access-<name>` and `token-<name>` must fit a stream name
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+:/-]*")
SOURCE = "cli"


@dataclass(frozen=True)
class NewToken:
    """A token just made: the secret is here and nowhere else, ever."""

    token_id: str
    name: str
    roles: tuple[Role, ...]
    expires_at: datetime | None
    secret: str


def valid_name(name: str) -> bool:
    """True if `name` can name a token (and so be an actor and part of a stream name)."""
    return len(name) <= MAX_NAME_LENGTH and _NAME.fullmatch(name) is not None


def expiry(text: str, now: datetime | None = None) -> datetime:
    """When a token given `--expires text` stops: an age from now (`90d`, `36h`) or a time."""
    moment = now or datetime.now(UTC)
    age = age_length(text)
    if age is not None:
        return moment + age
    try:
        found = datetime.fromisoformat(text.strip())
    except ValueError:
        raise FieldProblem(
            "expires",
            f"{text!r} is neither an age such as 90d, 12w or 36h nor an ISO 8601 time",
            text,
        ) from None
    found = found if found.tzinfo is not None else found.replace(tzinfo=UTC)
    if found <= moment:
        raise FieldProblem("expires", f"{text!r} is already past", text)
    return found.astimezone(UTC)


def create_token(
    store: EventStore,
    name: str,
    roles: frozenset[Role],
    actor: str,
    *,
    expires_at: datetime | None = None,
    source: str = SOURCE,
) -> NewToken:
    """Make a token named `name` holding `roles`, as `actor`; the secret is in the answer only."""
    if not valid_name(name):
        raise FieldProblem(
            "name",
            f"{name!r} cannot name a token: up to {MAX_NAME_LENGTH} letters, digits and "
            ". _ @ + : / -, starting with a letter or digit",
            name,
        )
    if not roles:
        raise FieldProblem("role", "a token needs at least one role")
    ordered = tuple(sorted(roles))
    token_id = str(uuid.uuid4())
    secret = new_secret(TOKEN_PREFIX)
    created = TokenCreated(
        token_id=token_id, name=name, roles=tuple(ordered), expires_at=expires_at
    )
    with store.transaction() as tx:
        tx.connection.execute(
            "INSERT INTO access_tokens (token_id, name, roles, secret_sha256, created_by, "
            "expires_at) VALUES (%s, %s, %s, %s, %s, %s)",
            (token_id, name, list(ordered), secret_digest(secret), actor, expires_at),
        )
        tx.append(f"token-{name}", [created], ANY, Metadata(actor=actor, source=source))
    return NewToken(token_id, name, ordered, expires_at, secret)


def revoke_tokens(store: EventStore, name_or_id: str, actor: str, source: str = SOURCE) -> int:
    """Revoke the live tokens named `name_or_id` (or the one with that id); how many."""
    by_id = _is_uuid(name_or_id)
    with store.transaction() as tx:
        rows = tx.connection.execute(
            "UPDATE access_tokens SET revoked_at = now(), revoked_by = %s "
            f"WHERE {'token_id = %s::uuid' if by_id else 'name = %s'} AND revoked_at IS NULL "
            "RETURNING token_id, name",
            (actor, name_or_id),
        ).fetchall()
        for token_id, name in rows:
            revoked = TokenRevoked(token_id=str(token_id), name=name)
            tx.append(f"token-{name}", [revoked], ANY, Metadata(actor=actor, source=source))
    return len(rows)


def _is_uuid(text: str) -> bool:
    """True if `text` is a uuid."""
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
