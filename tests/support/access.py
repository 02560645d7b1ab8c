"""Credentials for tests: the application role's password, and tokens of any role.

The tokens tests hold are written straight into access_tokens, as `shiplog token
create` writes them but without its TokenCreated event: a test's ledger then holds
only what the test put there. Making tokens the real way is tested on its own
(tests/api/test_access.py, tests/cli/test_token_cli.py).
"""

from __future__ import annotations

import uuid

import psycopg

from app.credentials import TOKEN_PREFIX, new_secret, secret_digest
from app.services.access import Role
from events.store import EventStore

# The test server trusts local connections; the password keeps a server that does not
# (SHIPLOG_TEST_DATABASE_URL pointing at one with password authentication) working too.
TEST_APP_PASSWORD = "shiplog-test-app"


def set_test_app_password(admin_url: str) -> None:
    """Let shiplog_app log in with TEST_APP_PASSWORD (the role is the cluster's, made by 0006)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"ALTER ROLE shiplog_app LOGIN PASSWORD '{TEST_APP_PASSWORD}'")


def token(store: EventStore, name: str, *roles: Role) -> str:
    """The secret of a new token named `name` holding `roles` (no event recorded)."""
    secret = new_secret(TOKEN_PREFIX)
    with store.connection() as conn:
        conn.execute(
            "INSERT INTO access_tokens (token_id, name, roles, secret_sha256, created_by) "
            "VALUES (%s, %s, %s, %s, 'test')",
            (uuid.uuid4(), name, sorted(role.value for role in roles), secret_digest(secret)),
        )
    return secret


def bearer(store: EventStore, name: str, *roles: Role) -> dict[str, str]:
    """An Authorization header carrying a new token named `name` holding `roles`."""
    return {"Authorization": f"Bearer {token(store, name, *roles)}"}
