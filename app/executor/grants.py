"""Which repositories an administrator allowed privileges beyond the sandbox (`sandbox_grants`).

A grant lets the steps and services of one repository (its canonical name, see
repositories.py) ask for privileged mode, the host's network or the runner's Docker
socket. Runs read the grants of their repository when they start; untrusted runs
get none whatever is granted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from app.executor.repositories import repository_key
from app.pipeline import PRIVILEGES


class GrantError(ValueError):
    """A grant names no known privilege; the message lists the ones there are."""


@dataclass(frozen=True)
class Grant:
    """One privilege allowed to one repository, by whom and when."""

    repository: str
    privilege: str
    granted_by: str
    granted_at: datetime


def check_privilege(privilege: str) -> str:
    """Return `privilege` if it is one a repository can be allowed, else GrantError."""
    if privilege not in PRIVILEGES:
        raise GrantError(f"unknown privilege {privilege!r}: choose one of {', '.join(PRIVILEGES)}")
    return privilege


class SandboxGrants:
    """Add, remove and read the privileges granted to repositories, as the application role."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo

    def allow(self, repository: str, privilege: str, granted_by: str) -> bool:
        """Allow `privilege` to `repository`; False when it already was."""
        check_privilege(privilege)
        with psycopg.connect(self._conninfo) as conn:
            cursor = conn.execute(
                "INSERT INTO sandbox_grants (repository, privilege, granted_by) "
                "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (repository_key(repository), privilege, granted_by),
            )
            return cursor.rowcount > 0

    def revoke(self, repository: str, privilege: str) -> bool:
        """Withdraw `privilege` from `repository`; False when it was not granted."""
        check_privilege(privilege)
        with psycopg.connect(self._conninfo) as conn:
            cursor = conn.execute(
                "DELETE FROM sandbox_grants WHERE repository = %s AND privilege = %s",
                (repository_key(repository), privilege),
            )
            return cursor.rowcount > 0

    def granted(self, repository: str) -> frozenset[str]:
        """The privileges `repository` was allowed."""
        with psycopg.connect(self._conninfo) as conn:
            rows = conn.execute(
                "SELECT privilege FROM sandbox_grants WHERE repository = %s",
                (repository_key(repository),),
            ).fetchall()
        return frozenset(row[0] for row in rows)

    def listing(self) -> list[Grant]:
        """Every grant, by repository and privilege."""
        with psycopg.connect(self._conninfo) as conn:
            rows = conn.execute(
                "SELECT repository, privilege, granted_by, granted_at FROM sandbox_grants "
                "ORDER BY repository, privilege"
            ).fetchall()
        return [Grant(*row) for row in rows]
