"""Is a connection safe to write the ledger through? Only if it cannot rewrite it.

The application must log in as a role that may read the ledger and add to it and
nothing more. A role that is a superuser, owns the ledger, or may SET ROLE to one
that does can drop the triggers that keep events immutable, so shiplog refuses to
run on such a connection instead of trusting itself not to.
"""

from __future__ import annotations

import psycopg

from events.errors import LedgerError

_POWERS = """
SELECT current_user,
       coalesce(string_agg(r.rolname, ', ' ORDER BY r.rolname), ''),
       has_table_privilege('events', 'UPDATE')
           OR has_table_privilege('events', 'DELETE')
           OR has_table_privilege('events', 'TRUNCATE')
FROM pg_roles r
WHERE (r.rolsuper OR r.oid = (SELECT relowner FROM pg_class WHERE oid = 'events'::regclass))
  AND pg_has_role(current_user, r.oid, 'MEMBER')
"""


class PrivilegedConnection(LedgerError):
    """The application's connection could rewrite the ledger; shiplog will not use it."""


def ledger_powers(conninfo: str) -> tuple[str, list[str], bool]:
    """The connection's user, the owner or superuser roles it can act as, and any UPDATE grant."""
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(_POWERS).fetchone()
    assert row is not None
    user, roles, may_change = row
    return str(user), [r for r in str(roles).split(", ") if r], bool(may_change)


def refuse_privileged(conninfo: str, setting: str = "SHIPLOG_DATABASE_URL") -> None:
    """Raise PrivilegedConnection, saying what to do, if `conninfo` could rewrite the ledger."""
    user, roles, may_change = ledger_powers(conninfo)
    if not roles and not may_change:
        return
    why = (
        f"can act as {', '.join(roles)} (a superuser or the ledger's owner)"
        if roles
        else "may UPDATE, DELETE or TRUNCATE events"
    )
    raise PrivilegedConnection(
        f"{setting} logs in as {user!r}, which {why}: shiplog connects as the application "
        "role only, so that nothing it does can rewrite history. Point "
        f"{setting} at the role shiplog_app and give the owner's URL to `shiplog migrate` "
        "in SHIPLOG_OWNER_DATABASE_URL (docs/security.md)"
    )
