"""Named secrets that steps ask for, scoped to a repository and sealed at rest (table `secrets`).

Secrets are configuration, not history: they are set, overwritten and deleted,
and no event carries a value. Each belongs to one repository (its canonical name,
see repositories.py), optionally narrowed to a branch and/or an environment; a run
gets, for each name it asks for, the most specific value its repository has for
its branch (an environment scope only where a step names the environment). Values
are sealed with the keyring of secret_keys.py, kept outside the database.

A value never appears in a log record, an exception message or a repr: errors name
secrets, never their values, and database errors (whose details can quote a
failing row) are replaced by value-free ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from app.executor.repositories import repository_key
from app.executor.secret_keys import (
    Keyring,
    SecretKeyError,
    SecretScope,
    load_or_create_keyring,
    read_keyring,
)

NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MASKED: Final = "********"
T = TypeVar("T")

_COLUMNS = "repository, branch, environment, name"


class SecretError(Exception):
    """A secret could not be stored or found; the message names secrets, never values."""


class MissingSecrets(SecretError, LookupError):
    """Secrets a step asks for are not set for the run's repository."""

    def __init__(self, missing: Iterable[str], repository: str = "") -> None:
        self.missing = tuple(sorted(missing))
        listed = ", ".join(self.missing)
        where = f" for {repository}" if repository else ""
        super().__init__(
            f"secret{'s' if len(self.missing) > 1 else ''} not set{where}: {listed} "
            "(set with `shiplog secret set NAME --repo REPOSITORY`)"
        )


class SecretValues(dict[str, str]):
    """Secret values by name: a plain dict whose repr shows the names only."""

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{name!r}: {MASKED!r}" for name in self) + "}"

    __str__ = __repr__


@dataclass(frozen=True)
class StoredSecret:
    """What may be shown of a stored secret: where it applies, its name, key and age."""

    scope: SecretScope
    name: str
    key_id: str
    updated_at: datetime


def check_name(name: str) -> str:
    """Return `name` if it is a valid secret name, else raise SecretError saying why."""
    if not isinstance(name, str) or NAME.fullmatch(name) is None:
        raise SecretError(
            f"invalid secret name {name!r}: use letters, digits and underscores, "
            "not starting with a digit (like an environment variable, e.g. REGISTRY_TOKEN)"
        )
    return name


def secret_scope(
    repository: str, branch: str | None = None, environment: str | None = None
) -> SecretScope:
    """A scope with the repository's canonical name; an empty branch or environment means any."""
    for what, value in (("branch", branch), ("environment", environment)):
        if value is not None and (not value.strip() or any(ord(c) < 32 for c in value)):
            raise SecretError(f"invalid {what} {value!r} for a secret's scope")
    return SecretScope(repository_key(repository), branch or None, environment or None)


class SecretStore:
    """Set, delete, list and fetch secrets as the application role; sealed with the keyring."""

    def __init__(self, conninfo: str | ConnectionPool[Any], keyring: Path | None = None) -> None:
        self._source = conninfo
        self._keyring_path = keyring

    def __repr__(self) -> str:
        if not isinstance(self._source, str):
            return f"<SecretStore on pool {self._source.name!r}>"
        try:
            where = conninfo_to_dict(self._source).get("dbname", "?")
        except psycopg.ProgrammingError:
            where = "?"
        return f"<SecretStore database {where!r}>"

    def keyring(self, *, create: bool = False) -> Keyring:
        """The keyring sealing the values (made on first use with `create`)."""
        if self._keyring_path is None:
            raise SecretError("no secrets keyring configured: values cannot be sealed or opened")
        try:
            if create:
                return load_or_create_keyring(self._keyring_path)
            return read_keyring(self._keyring_path)
        except SecretKeyError as error:
            raise SecretError(str(error)) from None

    def _run(self, action: str, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """`work` in one transaction; a database error becomes a SecretError quoting nothing stored.

        psycopg's messages include the server's DETAIL, which can quote a whole
        failing row; so only the kind of error is kept, and the SecretError is
        raised outside the handler so it does not even carry the original as its
        context.
        """
        try:
            if isinstance(self._source, str):
                with psycopg.connect(self._source) as conn, conn.transaction():
                    return work(conn)
            with self._source.connection() as conn, conn.transaction():
                return work(conn)
        except psycopg.OperationalError as exc:  # cannot connect: quotes nothing stored
            failure = str(exc).strip().splitlines()[0] if str(exc).strip() else "no connection"
        except psycopg.Error as exc:
            failure = f"{type(exc).__name__} ({exc.sqlstate or 'no SQLSTATE'})"
        raise SecretError(f"{action} failed: {failure}")

    def set(self, scope: SecretScope, name: str, value: str) -> None:
        """Seal `value` under `name` in `scope`, replacing any earlier value there."""
        check_name(name)
        if not isinstance(value, str):
            raise SecretError(f"secret {name}: the value must be text, not {type(value).__name__}")
        if "\x00" in value:
            raise SecretError(f"secret {name}: the value contains a NUL character")
        key_id, sealed = self.keyring(create=True).seal(scope, name, value)
        self._run(
            f"setting secret {name}",
            lambda conn: conn.execute(
                f"INSERT INTO secrets ({_COLUMNS}, key_id, sealed) VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT ON CONSTRAINT secrets_one_per_scope DO UPDATE SET "
                "key_id = EXCLUDED.key_id, sealed = EXCLUDED.sealed, updated_at = now()",
                (scope.repository, scope.branch, scope.environment, name, key_id, sealed),
            ),
        )

    def delete(self, scope: SecretScope, name: str) -> bool:
        """Remove the secret `name` of exactly `scope`; False when there was none."""
        check_name(name)
        cur = self._run(
            f"deleting secret {name}",
            lambda conn: conn.execute(
                "DELETE FROM secrets WHERE repository = %s AND branch IS NOT DISTINCT FROM %s "
                "AND environment IS NOT DISTINCT FROM %s AND name = %s",
                (scope.repository, scope.branch, scope.environment, name),
            ),
        )
        return cur.rowcount > 0

    def listing(self, repository: str | None = None) -> list[StoredSecret]:
        """Every stored secret (of one repository, if given): scope, name, key id; no value."""
        where, params = ("WHERE repository = %s", [repository]) if repository else ("", [])
        rows = self._run(
            "listing secrets",
            lambda conn: conn.execute(
                f"SELECT {_COLUMNS}, key_id, updated_at FROM secrets {where} "
                "ORDER BY repository, name, branch NULLS FIRST, environment NULLS FIRST",
                params,
            ).fetchall(),
        )
        return [
            StoredSecret(SecretScope(repo, branch, env), name, key_id, updated)
            for repo, branch, env, name, key_id, updated in rows
        ]

    def names_for(
        self, repository: str, branch: str | None, environment: str | None = None
    ) -> list[str]:
        """The names a run of `repository` on `branch` (for `environment`) can ask for, sorted."""
        return sorted({row[3] for row in self._applicable(repository, branch, environment, None)})

    def values(
        self,
        names: Iterable[str],
        repository: str,
        branch: str | None,
        environment: str | None = None,
    ) -> SecretValues:
        """The most specific value of each name for this scope; MissingSecrets names the unset."""
        wanted = sorted({check_name(name) for name in names})
        if not wanted:
            return SecretValues()
        rows = self._applicable(repository, branch, environment, wanted)
        keyring = self.keyring() if rows else None
        found: dict[str, str] = {}
        for repo, row_branch, row_env, name, key_id, sealed in rows:
            if name in found:
                continue  # rows come most specific first
            scope = SecretScope(repo, row_branch, row_env)
            assert keyring is not None
            try:
                found[name] = keyring.open(scope, name, key_id, bytes(sealed))
            except SecretKeyError as error:
                raise SecretError(str(error)) from None
        missing = [name for name in wanted if name not in found]
        if missing:
            raise MissingSecrets(missing, repository_key(repository))
        return SecretValues((name, found[name]) for name in wanted)

    def _applicable(
        self,
        repository: str,
        branch: str | None,
        environment: str | None,
        names: list[str] | None,
    ) -> list[tuple[Any, ...]]:
        """Rows that apply to this scope, most specific (environment, then branch) first."""
        repository = repository_key(repository)
        only = " AND name = ANY(%s)" if names is not None else ""
        params: list[Any] = [repository, branch, environment]
        return self._run(
            "reading secrets",
            lambda conn: conn.execute(
                f"SELECT {_COLUMNS}, key_id, sealed FROM secrets WHERE repository = %s "
                "AND (branch IS NULL OR branch = %s) AND (environment IS NULL OR environment = %s)"
                f"{only} ORDER BY name, environment IS NULL, branch IS NULL",
                params + ([names] if names is not None else []),
            ).fetchall(),
        )

    def key_usage(self) -> dict[str, int]:
        """How many stored secrets each key id seals."""
        rows = self._run(
            "counting secrets by key",
            lambda conn: conn.execute(
                "SELECT key_id, count(*) FROM secrets GROUP BY key_id"
            ).fetchall(),
        )
        return {key_id: int(count) for key_id, count in rows}

    def reseal(self, keyring: Keyring) -> int:
        """Seal every value not under the keyring's primary key again with it; how many moved."""

        def work(conn: psycopg.Connection[Any]) -> int:
            rows = conn.execute(
                f"SELECT {_COLUMNS}, key_id, sealed FROM secrets WHERE key_id <> %s FOR UPDATE",
                (keyring.primary,),
            ).fetchall()
            for repo, branch, env, name, key_id, sealed in rows:
                scope = SecretScope(repo, branch, env)
                new_key, resealed = keyring.seal(
                    scope, name, keyring.open(scope, name, key_id, sealed)
                )
                conn.execute(
                    "UPDATE secrets SET key_id = %s, sealed = %s WHERE repository = %s "
                    "AND branch IS NOT DISTINCT FROM %s AND environment IS NOT DISTINCT FROM %s "
                    "AND name = %s",
                    (new_key, resealed, repo, branch, env, name),
                )
            return len(rows)

        try:
            return self._run("re-encrypting secrets", work)
        except SecretKeyError as error:
            raise SecretError(str(error)) from None

    def unscoped_names(self) -> list[str]:
        """Names of the plain-text secrets kept from before secrets were scoped, sorted."""
        rows = self._run(
            "listing unscoped secrets",
            lambda conn: conn.execute(
                "SELECT name FROM unscoped_plaintext_secrets ORDER BY name"
            ).fetchall(),
        )
        return [row[0] for row in rows]

    def import_unscoped(self, scope: SecretScope) -> list[str]:
        """Seal every unscoped plain-text secret into `scope` and delete it there; their names."""
        keyring = self.keyring(create=True)

        def work(conn: psycopg.Connection[Any]) -> list[str]:
            # Deleted and sealed in one transaction: a failure leaves the plain text in place.
            rows = conn.execute(
                "DELETE FROM unscoped_plaintext_secrets RETURNING name, value"
            ).fetchall()
            taken = conn.execute(
                "SELECT name FROM secrets WHERE repository = %s AND branch IS NOT DISTINCT FROM %s"
                " AND environment IS NOT DISTINCT FROM %s AND name = ANY(%s)",
                (scope.repository, scope.branch, scope.environment, [name for name, _ in rows]),
            ).fetchall()
            if taken:
                names = ", ".join(sorted(row[0] for row in taken))
                raise SecretError(
                    f"{scope.describe()} already has secret(s) {names}; remove them first "
                    "or import into another scope"
                )
            for name, value in sorted(rows):
                key_id, sealed = keyring.seal(scope, name, value)
                conn.execute(
                    f"INSERT INTO secrets ({_COLUMNS}, key_id, sealed) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    (scope.repository, scope.branch, scope.environment, name, key_id, sealed),
                )
            return sorted(name for name, _ in rows)

        return self._run("importing unscoped secrets", work)
