"""Registered repositories, kept in the `repositories` table (migrations/0050_repositories.sql).

A repository is registered under its canonical identity (app/repo_identity.py). Its
webhook secret is kept here because verifying a signature needs it; its clone
credential is a secret in the secret store, named per repository. Nothing here writes
the ledger: app/services/repositories.py records who changed what.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg

Forge = Literal["github", "gitea", "gitlab"]
FORGES: tuple[Forge, ...] = ("github", "gitea", "gitlab")

_COLUMNS = (
    "identity, forge, clone_url, webhook_secret, api_url, commit_status, registered_at, "
    "registered_by"
)


@dataclass(frozen=True)
class Repository:
    """A registered repository; `webhook_secret` is never shown after it was made."""

    identity: str
    forge: Forge
    clone_url: str
    webhook_secret: str
    api_url: str | None
    commit_status: bool
    registered_at: datetime
    registered_by: str

    def __repr__(self) -> str:
        return f"<Repository {self.identity} ({self.forge})>"


def new_webhook_secret() -> str:
    """A fresh webhook secret, `whsec_` and 32 random bytes in base64.

    GitHub and Gitea use the whole string as their HMAC key, GitLab compares it as its
    secret token and, base64-decoded, uses it as the key of its Standard Webhooks
    signing token, so one secret serves every forge.
    """
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class RepositoryStore:
    """Read and change the registered repositories, as the application role."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo

    def _rows(
        self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def get(self, identity: str) -> Repository | None:
        """The repository registered under `identity`, if any."""
        rows = self._rows(f"SELECT {_COLUMNS} FROM repositories WHERE identity = %s", (identity,))
        return Repository(*rows[0]) if rows else None

    def all(self, *, after: str | None = None, limit: int | None = None) -> list[Repository]:
        """The registered repositories by identity: those after `after`, at most `limit`."""
        sql = (
            f"SELECT {_COLUMNS} FROM repositories WHERE %(after)s::text IS NULL "
            "OR identity > %(after)s ORDER BY identity LIMIT %(limit)s"
        )
        return [Repository(*row) for row in self._rows(sql, {"after": after, "limit": limit})]

    def save(
        self,
        identity: str,
        *,
        forge: Forge,
        clone_url: str,
        api_url: str | None,
        commit_status: bool,
        actor: str,
        webhook_secret: str | None,
    ) -> Repository:
        """Insert or update a repository; a None `webhook_secret` keeps the one it has."""
        rows = self._rows(
            "INSERT INTO repositories (identity, forge, clone_url, webhook_secret, api_url, "
            "commit_status, registered_by) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (identity) DO UPDATE SET forge = EXCLUDED.forge, "
            "clone_url = EXCLUDED.clone_url, api_url = EXCLUDED.api_url, "
            "commit_status = EXCLUDED.commit_status, registered_by = EXCLUDED.registered_by, "
            "registered_at = now(), webhook_secret = CASE WHEN %s THEN EXCLUDED.webhook_secret "
            f"ELSE repositories.webhook_secret END RETURNING {_COLUMNS}",
            (
                identity,
                forge,
                clone_url,
                webhook_secret or new_webhook_secret(),
                api_url,
                commit_status,
                actor,
                webhook_secret is not None,
            ),
        )
        return Repository(*rows[0])

    def delete(self, identity: str) -> bool:
        """Remove the repository; False if it was not registered."""
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            cursor = conn.execute("DELETE FROM repositories WHERE identity = %s", (identity,))
            return cursor.rowcount > 0
