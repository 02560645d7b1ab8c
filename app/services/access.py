"""Who may do what: roles, the principal a credential stands for, and the check between them.

A principal is what an adapter authenticated: an actor name (what events record), the
roles its credential holds, and the kind of credential that proved it. Commands take
the actor from a principal, never from anything the client can set. `admin` may do
everything; the people's roles (operator, deployer, approver) may also read; the
machines' roles (runner, integration) may do only their own work (docs/security.md).
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


ROLE_NAMES = frozenset(role.value for role in Role)

# Roles that bring others with them: the people who act on what they see may see it.
IMPLIED: dict[Role, frozenset[Role]] = {
    Role.OPERATOR: frozenset({Role.VIEWER}),
    Role.DEPLOYER: frozenset({Role.VIEWER}),
    Role.APPROVER: frozenset({Role.VIEWER}),
}

# How a principal was proven (Principal.credential).
TOKEN = "token"
SESSION = "session"
OS_USER = "os-user"
NO_CREDENTIAL = "none"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the actor events record, its roles, and how it was proven."""

    actor: str
    roles: frozenset[Role]
    credential: str  # TOKEN, SESSION, OS_USER, or NO_CREDENTIAL for an anonymous caller
    namespace: str | None = None  # an integration's own namespace for the ids it reports

    @property
    def anonymous(self) -> bool:
        """True if no credential proved who this is."""
        return self.credential == NO_CREDENTIAL


def anonymous(client: str | None) -> Principal:
    """The principal of a caller who showed no valid credential, named by its address."""
    return Principal(f"anonymous@{client or 'unknown'}", frozenset(), NO_CREDENTIAL)


def principal_for(actor: str, roles: frozenset[Role], credential: str) -> Principal:
    """The principal of a proven credential; an integration's ids are its own (namespace)."""
    namespace = actor if Role.INTEGRATION in roles else None
    return Principal(actor, roles, credential, namespace)


class Forbidden(PermissionError):
    """The principal may not do the action: no credential (HTTP 401) or no role for it (403)."""

    def __init__(
        self,
        principal: Principal,
        needed: tuple[Role, ...],
        action: str,
        reason: str | None = None,
    ) -> None:
        self.principal = principal
        self.needed = needed
        self.action = action
        wanted = " or ".join(role.value for role in needed)
        if reason is None:
            reason = (
                f"sign in or send a token (Authorization: Bearer) with the role {wanted}"
                if principal.anonymous
                else f"it needs the role {wanted}"
            )
        self.reason = reason
        super().__init__(f"{principal.actor} may not {action}: {reason}")


def effective_roles(roles: frozenset[Role]) -> frozenset[Role]:
    """`roles` with the roles they imply."""
    implied = [IMPLIED.get(role, frozenset()) for role in roles]
    return roles.union(*implied)


def may(principal: Principal, *roles: Role) -> bool:
    """True if the principal holds one of `roles` (or is an admin)."""
    held = effective_roles(principal.roles)
    return Role.ADMIN in held or any(role in held for role in roles)


def check(principal: Principal, action: str, *roles: Role) -> Principal:
    """`principal` if it may do `action` with one of `roles`; Forbidden otherwise."""
    if not may(principal, *roles):
        raise Forbidden(principal, roles, action)
    return principal


def parse_roles(names: list[str] | tuple[str, ...]) -> frozenset[Role]:
    """The roles `names` name; ValueError naming the unknown ones and the known."""
    unknown = [name for name in names if name not in ROLE_NAMES]
    if unknown:
        known = ", ".join(role.value for role in Role)
        raise ValueError(f"unknown role {', '.join(map(repr, unknown))}: the roles are {known}")
    return frozenset(Role(name) for name in names)
