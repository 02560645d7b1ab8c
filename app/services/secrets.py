"""Secrets that pipeline steps ask for by name: set, delete, list (never show) them; rotate keys.

The values live sealed in the secrets table (migrations/0030), kept by
app/executor/secrets.py, which also hands them to the runs of their repository;
the keys live in the keyring file (app/executor/secret_keys.py), never in the
database. Errors are SecretError and never quote a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.executor.secret_keys import SecretKeyError, SecretScope, write_keyring
from app.executor.secrets import SecretError, SecretStore, StoredSecret, secret_scope
from app.services.repository_names import named_repository


@dataclass(frozen=True)
class KeyUse:
    """One key of the keyring: whether it seals new values, and how many it seals now."""

    key_id: str
    primary: bool
    secrets: int


def scope_of(repository: str, branch: str | None, environment: str | None) -> SecretScope:
    """The scope a user names: a repository (URL, host/owner/name or checkout), branch, env."""
    return secret_scope(named_repository(repository), branch, environment)


def set_secret(conninfo: str, keyring: Path, scope: SecretScope, name: str, value: str) -> None:
    """Seal `value` under `name` in `scope`, replacing any earlier value there."""
    SecretStore(conninfo, keyring).set(scope, name, value)


def delete_secret(conninfo: str, scope: SecretScope, name: str) -> bool:
    """Remove the secret `name` of exactly `scope`; False when there was none."""
    return SecretStore(conninfo).delete(scope, name)


def list_secrets(conninfo: str, repository: str | None = None) -> list[StoredSecret]:
    """Every stored secret (of one repository, if named), without values."""
    key = named_repository(repository) if repository else None
    return SecretStore(conninfo).listing(key)


def unscoped_secret_names(conninfo: str) -> list[str]:
    """Names of the plain-text secrets from before secrets were scoped, awaiting import."""
    return SecretStore(conninfo).unscoped_names()


def import_unscoped_secrets(conninfo: str, keyring: Path, scope: SecretScope) -> list[str]:
    """Seal every unscoped plain-text secret into `scope`, removing the plain text; their names."""
    return SecretStore(conninfo, keyring).import_unscoped(scope)


def secret_keys(conninfo: str, keyring: Path) -> list[KeyUse]:
    """Every key of the keyring, the primary first, with how many secrets each seals."""
    ring = SecretStore(conninfo, keyring).keyring()
    usage = SecretStore(conninfo).key_usage()
    unknown = sorted(set(usage) - set(ring.keys))
    if unknown:
        raise SecretError(
            f"secrets are sealed with key(s) {', '.join(unknown)}, which the keyring "
            f"{keyring} does not hold; restore the keyring that has them"
        )
    ordered = sorted(ring.keys, key=lambda kid: (kid != ring.primary, kid))
    return [KeyUse(kid, kid == ring.primary, usage.get(kid, 0)) for kid in ordered]


def rotate_secret_key(conninfo: str, keyring: Path) -> tuple[str, int]:
    """Add a fresh primary key and re-seal every secret with it: (its id, how many re-sealed).

    The keyring is written first, keeping the old keys, so a failure part-way leaves
    every secret readable; retire an old key once `secret_keys` shows it seals nothing.
    """
    store = SecretStore(conninfo, keyring)
    rotated = store.keyring(create=True).with_new_primary()
    try:
        write_keyring(keyring, rotated)
    except SecretKeyError as error:
        raise SecretError(str(error)) from None
    return rotated.primary, store.reseal(rotated)


def retire_secret_key(conninfo: str, keyring: Path, key_id: str) -> None:
    """Remove `key_id` from the keyring; refused while it is the primary or seals a secret."""
    store = SecretStore(conninfo, keyring)
    ring = store.keyring()
    if key_id == ring.primary:
        raise SecretError(f"key {key_id} is the primary key; rotate before retiring it")
    in_use = store.key_usage().get(key_id, 0)
    if in_use:
        raise SecretError(
            f"key {key_id} still seals {in_use} secret(s); run `shiplog secret key rotate` first"
        )
    try:
        write_keyring(keyring, ring.without(key_id))
    except SecretKeyError as error:
        raise SecretError(str(error)) from None
