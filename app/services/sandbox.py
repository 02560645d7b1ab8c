"""Privileges beyond the step sandbox, allowed per repository by an administrator.

The grants live in the sandbox_grants table (migrations/0031), kept by
app/executor/grants.py, which the runner reads when a run starts.
"""

from __future__ import annotations

from app.executor.grants import Grant, SandboxGrants
from app.services.repository_names import named_repository


def allow_privilege(conninfo: str, repository: str, privilege: str, actor: str) -> tuple[str, bool]:
    """Allow `privilege` to `repository` as `actor`: (the repository's key, whether it is new)."""
    key = named_repository(repository)
    return key, SandboxGrants(conninfo).allow(key, privilege, actor)


def revoke_privilege(conninfo: str, repository: str, privilege: str) -> tuple[str, bool]:
    """Withdraw `privilege` from `repository`: (the repository's key, whether it was granted)."""
    key = named_repository(repository)
    return key, SandboxGrants(conninfo).revoke(key, privilege)


def list_grants(conninfo: str) -> list[Grant]:
    """Every privilege granted, by repository."""
    return SandboxGrants(conninfo).listing()
