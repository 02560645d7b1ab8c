"""Named secrets that steps ask for, kept in the `secrets` table (migrations/0009_secrets.sql).

Secrets are configuration, not history: they are set, overwritten and deleted,
and no event carries a value. A value never appears in a log record, an
exception message or a repr: errors name secrets, never their values, and
database errors (whose details can quote a failing row) are replaced by
value-free ones. Encryption at rest is planned, not done.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MASKED: Final = "********"
T = TypeVar("T")


class SecretError(Exception):
    """A secret could not be stored or found; the message names secrets, never values."""


class MissingSecrets(SecretError, LookupError):
    """Secrets a step asks for are not set."""

    def __init__(self, missing: Iterable[str]) -> None:
        self.missing = tuple(sorted(missing))
        listed = ", ".join(self.missing)
        super().__init__(
            f"secret{'s' if len(self.missing) > 1 else ''} not set: {listed} "
            "(set with `shiplog secret set NAME`)"
        )


class SecretValues(dict[str, str]):
    """Secret values by name: a plain dict whose repr shows the names only."""

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{name!r}: {MASKED!r}" for name in self) + "}"

    __str__ = __repr__


def check_name(name: str) -> str:
    """Return `name` if it is a valid secret name, else raise SecretError saying why."""
    if not isinstance(name, str) or NAME.fullmatch(name) is None:
        raise SecretError(
            f"invalid secret name {name!r}: use letters, digits and underscores, "
            "not starting with a digit (like an environment variable, e.g. REGISTRY_TOKEN)"
        )
    return name


class SecretStore:
    """Set, delete, list and fetch secrets, as the application role."""

    def __init__(self, conninfo: str | ConnectionPool[Any]) -> None:
        self._source = conninfo

    def __repr__(self) -> str:
        if not isinstance(self._source, str):
            return f"<SecretStore on pool {self._source.name!r}>"
        try:
            where = conninfo_to_dict(self._source).get("dbname", "?")
        except psycopg.ProgrammingError:
            where = "?"
        return f"<SecretStore database {where!r}>"

    def _run(self, action: str, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """`work` on a connection; a database error becomes a SecretError quoting nothing stored.

        psycopg's messages include the server's DETAIL, which can quote a whole
        failing row, value and all; so only the kind of error is kept, and the
        SecretError is raised outside the handler so it does not even carry the
        original as its context.
        """
        try:
            if isinstance(self._source, str):
                with psycopg.connect(self._source, autocommit=True) as conn:
                    return work(conn)
            with self._source.connection() as conn, conn.transaction():
                return work(conn)
        except psycopg.OperationalError as exc:  # cannot connect: quotes nothing stored
            failure = str(exc).strip().splitlines()[0] if str(exc).strip() else "no connection"
        except psycopg.Error as exc:
            failure = f"{type(exc).__name__} ({exc.sqlstate or 'no SQLSTATE'})"
        raise SecretError(f"{action} failed: {failure}")

    def set(self, name: str, value: str) -> None:
        """Store `value` under `name`, replacing any earlier value."""
        check_name(name)
        if not isinstance(value, str):
            raise SecretError(f"secret {name}: the value must be text, not {type(value).__name__}")
        if "\x00" in value:
            raise SecretError(f"secret {name}: the value contains a NUL character")
        self._run(
            f"setting secret {name}",
            lambda conn: conn.execute(
                "INSERT INTO secrets (name, value) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
                (name, value),
            ),
        )

    def delete(self, name: str) -> bool:
        """Remove the secret `name`; False when there was none."""
        check_name(name)
        cur = self._run(
            f"deleting secret {name}",
            lambda conn: conn.execute("DELETE FROM secrets WHERE name = %s", (name,)),
        )
        return cur.rowcount > 0

    def names(self) -> list[str]:
        """The names of all secrets, sorted."""
        rows = self._run(
            "listing secrets",
            lambda conn: conn.execute("SELECT name FROM secrets ORDER BY name").fetchall(),
        )
        return [row[0] for row in rows]

    def values(self, names: Iterable[str]) -> SecretValues:
        """The values of the named secrets; MissingSecrets names every one that is not set."""
        wanted = sorted({check_name(name) for name in names})
        if not wanted:
            return SecretValues()
        rows = self._run(
            "reading secrets",
            lambda conn: conn.execute(
                "SELECT name, value FROM secrets WHERE name = ANY(%s)", (wanted,)
            ).fetchall(),
        )
        found = SecretValues((name, value) for name, value in rows)
        missing = [name for name in wanted if name not in found]
        if missing:
            raise MissingSecrets(missing)
        return SecretValues((name, found[name]) for name in wanted)
