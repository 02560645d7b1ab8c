"""The keys that encrypt secrets at rest, kept in a keyring file outside the database.

    keys/                mode 0700 (under SHIPLOG_HOME, or SHIPLOG_SECRETS_KEYRING)
      secrets.keyring    JSON, mode 0600: {"primary": id, "keys": {id: base64 key}}

Each secret is sealed with AES-256-GCM (`cryptography`'s AESGCM) under the primary
key, with a fresh 96-bit random nonce, and its scope and name as associated data:
a ciphertext moved to another repository, branch, environment or name no longer
opens, so the scoping holds even against someone who can write the table. A row
records the id of its key; every key in the keyring can open, so a rotation adds a
key, makes it primary and re-encrypts, and an old key is retired once nothing uses
it. A key's id is derived from the key (a hash prefix), so one key has one id in
every copy of the keyring.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.keys import replace_file, write_new_file

KEYRING_FILE: Final = "secrets.keyring"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
_ID_CONTEXT: Final = b"shiplog secrets key id v1\x00"
_AAD_CONTEXT: Final = "shiplog secret v1"


class SecretKeyError(Exception):
    """The keyring is missing, unreadable or lacks a key; messages name files, never keys."""


@dataclass(frozen=True)
class SecretScope:
    """Where a secret applies: one repository, and optionally one branch and one environment."""

    repository: str
    branch: str | None = None
    environment: str | None = None

    def describe(self) -> str:
        """The scope in words, for messages: `github.com/acme/web (branch main)`."""
        parts = [f"branch {self.branch}"] if self.branch else []
        parts += [f"environment {self.environment}"] if self.environment else []
        return self.repository + (f" ({', '.join(parts)})" if parts else "")


def secret_key_id(key: bytes) -> str:
    """The id of a key: `k-` and 16 hex digits of a hash of it (reveals nothing of the key)."""
    return "k-" + hashlib.sha256(_ID_CONTEXT + key).hexdigest()[:16]


def _associated_data(scope: SecretScope, name: str) -> bytes:
    """What a ciphertext is bound to: its scope and name, unambiguously encoded."""
    fields = [_AAD_CONTEXT, scope.repository, scope.branch, scope.environment, name]
    return json.dumps(fields, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Keyring:
    """The secret keys by id, and which one encrypts new values."""

    primary: str
    keys: Mapping[str, bytes]

    def __repr__(self) -> str:
        return f"<Keyring primary={self.primary} keys={sorted(self.keys)}>"

    def seal(self, scope: SecretScope, name: str, value: str) -> tuple[str, bytes]:
        """(key id, nonce + ciphertext) of `value` under the primary key, bound to scope, name."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.primary]).encrypt(
            nonce, value.encode("utf-8"), _associated_data(scope, name)
        )
        return self.primary, nonce + sealed

    def open(self, scope: SecretScope, name: str, used_key: str, sealed: bytes) -> str:
        """The value sealed under `used_key`; SecretKeyError if the key is gone or it changed."""
        key = self.keys.get(used_key)
        if key is None:
            raise SecretKeyError(
                f"secret {name} of {scope.describe()} is encrypted with key {used_key}, which "
                "is not in the keyring; restore the keyring that holds it"
            )
        try:
            plain = AESGCM(key).decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _associated_data(scope, name)
            )
        except InvalidTag:
            raise SecretKeyError(
                f"secret {name} of {scope.describe()} does not decrypt: it was altered or "
                "moved from another scope; set it again"
            ) from None
        return plain.decode("utf-8")

    def with_new_primary(self) -> Keyring:
        """This keyring plus a fresh random key, which becomes the primary."""
        key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        return Keyring(secret_key_id(key), {**self.keys, secret_key_id(key): key})

    def without(self, retired: str) -> Keyring:
        """This keyring less the key `retired`, which must not be the primary."""
        if retired not in self.keys:
            raise SecretKeyError(f"key {retired} is not in the keyring")
        if retired == self.primary:
            raise SecretKeyError(f"key {retired} is the primary key; rotate before retiring it")
        return Keyring(self.primary, {k: v for k, v in self.keys.items() if k != retired})

    def to_json(self) -> bytes:
        """The keyring file's content."""
        keys = {kid: base64.b64encode(key).decode() for kid, key in sorted(self.keys.items())}
        return (json.dumps({"primary": self.primary, "keys": keys}, indent=2) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes, where: Path) -> Keyring:
        """Read a keyring file's content; SecretKeyError naming `where` if it is not one."""
        try:
            document = json.loads(data)
            primary = document["primary"]
            keys = {str(k): base64.b64decode(v, validate=True) for k, v in document["keys"].items()}
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise SecretKeyError(
                f"{where} is not a shiplog secrets keyring "
                '(expected JSON {"primary": id, "keys": {id: base64 key}})'
            ) from None
        for kid, key in keys.items():
            if len(key) != KEY_BYTES or secret_key_id(key) != kid:
                raise SecretKeyError(f"{where}: key {kid} is not a {KEY_BYTES}-byte key of that id")
        if primary not in keys:
            raise SecretKeyError(f"{where}: the primary key {primary} is not among its keys")
        return cls(primary, keys)


def read_keyring(path: Path) -> Keyring:
    """The keyring at `path`; SecretKeyError if it is missing, readable by others, or invalid."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SecretKeyError(
            f"no secrets keyring at {path}: secrets are encrypted with it; copy it from the "
            "host where they were set (or set SHIPLOG_SECRETS_KEYRING to where it is)"
        ) from None
    except OSError as error:
        raise SecretKeyError(f"cannot read the secrets keyring {path}: {error.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretKeyError(
            f"secrets keyring {path} is accessible by other users (mode {mode & 0o777:o}); "
            f"run: chmod 600 {path}"
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SecretKeyError(f"cannot read the secrets keyring {path}: {error.strerror}") from None
    return Keyring.from_json(data, path)


def load_or_create_keyring(path: Path) -> Keyring:
    """The keyring at `path`, made with one fresh key if there is none yet."""
    if not path.exists():
        fresh = Keyring("", {}).with_new_primary()
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_new_file(path, fresh.to_json(), 0o600)  # loses to a concurrent creator
        except OSError as error:
            raise SecretKeyError(
                f"cannot create the secrets keyring {path}: {error.strerror}"
            ) from None
    return read_keyring(path)


def write_keyring(path: Path, keyring: Keyring) -> None:
    """Replace the keyring file atomically (mode 0600)."""
    try:
        replace_file(path, keyring.to_json(), 0o600)
    except OSError as error:
        raise SecretKeyError(f"cannot write the secrets keyring {path}: {error.strerror}") from None
