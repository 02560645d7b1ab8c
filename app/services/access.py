"""Who may do what: roles, the principal a credential stands for, and the check between them.

A principal is what an adapter authenticated: an actor name (what events record), the
roles its credential holds, and the kind of credential that proved it. Commands take
the actor from a principal, never from anything the client can set. `admin` may do
everything; the other roles each open one kind of work (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a credential may do."""

    VIEWER = "viewer"  # read everything the pages and the API show
    OPERATOR = "operator"  # queue and cancel runs, report incidents
    DEPLOYER = "deployer"  # report and start deployments
    APPROVER = "approver"  # approve or reject what waits for approval
    ADMIN = "admin"  # everything, including tokens and settings
    RUNNER = "runner"  # append to the runs it claimed
    INTEGRATION = "integration"  # one external tool: its CDEvents and reports


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the actor events record, its roles, and how it was proven."""

    actor: str
    roles: frozenset[Role]
    credential: str  # e.g. "token", "session", "os-user", "runner"


class Forbidden(PermissionError):
    """The principal holds none of the roles the action needs (HTTP: 403)."""

    def __init__(self, principal: Principal, needed: tuple[Role, ...], action: str) -> None:
        self.principal = principal
        self.needed = needed
        self.action = action
        wanted = " or ".join(role.value for role in needed)
        super().__init__(f"{principal.actor} may not {action}: it needs the role {wanted}")


def may(principal: Principal, *roles: Role) -> bool:
    """True if the principal holds one of `roles` (or is an admin)."""
    return Role.ADMIN in principal.roles or any(role in principal.roles for role in roles)


def check(principal: Principal, action: str, *roles: Role) -> Principal:
    """`principal` if it may do `action` with one of `roles`; Forbidden otherwise."""
    if not may(principal, *roles):
        raise Forbidden(principal, roles, action)
    return principal
