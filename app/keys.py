"""The ledger's ed25519 signing key, kept under SHIPLOG_HOME/keys and created on first use.

    keys/            mode 0700
      ledger.key     PKCS#8 PEM private key, mode 0600: signs checkpoints
      ledger.pub     PEM public key: give it to whoever checks proofs

Creation is atomic and race-free: the key is written to a private temporary
file and hard-linked into place with os.link, which fails if the name already
exists. Two processes starting at once therefore end up using the same key: the
loser of the race discards its own and loads the winner's.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.config import Settings
from events.errors import KeyFileError, SealError
from events.signing import CheckpointSigner, CheckpointVerifier, check_key_name

PRIVATE_KEY_FILE = "ledger.key"
PUBLIC_KEY_FILE = "ledger.pub"


def private_key_path(settings: Settings) -> Path:
    """Where the ledger's private signing key lives."""
    return settings.key_dir / PRIVATE_KEY_FILE


def public_key_path(settings: Settings) -> Path:
    """Where the ledger's public key (PEM) lives."""
    return settings.key_dir / PUBLIC_KEY_FILE


def write_new_file(path: Path, data: bytes, mode: int) -> bool:
    """Create `path` holding `data` unless it exists; True when this call created it."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def replace_file(path: Path, data: bytes, mode: int) -> None:
    """Write `path` atomically (with `mode`), replacing whatever is there."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, mode)
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _read_private(path: Path, name: str) -> CheckpointSigner:
    """Load the private key at `path`, refusing one other users could read."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(
                f"signing key {path} is accessible by other users (mode {mode & 0o777:o}); "
                "run: chmod 600 " + str(path)
            )
        data = path.read_bytes()
    except OSError as error:
        raise KeyFileError(f"cannot read signing key {path}: {error.strerror}") from None
    try:
        return CheckpointSigner.from_private_pem(data, name)
    except ValueError as error:
        raise KeyFileError(f"signing key {path} is not usable: {error}") from None


def load_or_create_signing_key(settings: Settings) -> CheckpointSigner:
    """The ledger's signer, creating its key (and the public key beside it) on first use."""
    try:
        check_key_name(settings.ledger_origin)
    except ValueError as error:
        raise SealError(f"SHIPLOG_LEDGER_ORIGIN cannot name the ledger: {error}") from None
    return _load_or_create(
        private_key_path(settings), public_key_path(settings), settings.ledger_origin, "signing"
    )


def _load_or_create(private: Path, public: Path, name: str, what: str) -> CheckpointSigner:
    """The key pair at `private` (created on first use), its PEM public key kept at `public`."""
    key_dir = private.parent
    try:
        key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not private.exists():
            fresh = CheckpointSigner.generate(name)
            write_new_file(private, fresh.private_pem(), 0o600)
    except OSError as error:
        raise KeyFileError(f"cannot create the {what} key in {key_dir}: {error}") from None
    signer = _read_private(private, name)
    pem = signer.public_pem().encode()
    try:
        if not public.exists() or public.read_bytes() != pem:
            replace_file(public, pem, 0o644)
    except OSError as error:
        raise KeyFileError(f"cannot write the public key {public}: {error}") from None
    return signer


def load_public_key(path: Path, name: str) -> CheckpointVerifier:
    """A checkpoint verifier from a PEM public key file; KeyFileError naming the file if not."""
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise KeyFileError(f"cannot read public key {path}: {error.strerror}") from None
    try:
        return CheckpointVerifier.from_pem(pem, name)
    except ValueError as error:
        raise KeyFileError(f"{path} is not an ed25519 public key: {error}") from None


def load_verifier(settings: Settings) -> CheckpointVerifier:
    """The verifier for this ledger's own key: from ledger.pub, or else from the private key."""
    public = public_key_path(settings)
    if public.exists():
        return load_public_key(public, settings.ledger_origin)
    if private_key_path(settings).exists():
        return _read_private(private_key_path(settings), settings.ledger_origin).verifier()
    raise KeyFileError(
        f"no ledger key in {settings.key_dir}: pass the ledger's public key with --key"
    )


# --- the attestation key: signs provenance envelopes, nothing else ----------------------
#
#   keys/attestation.key   PKCS#8 PEM private key, mode 0600: signs DSSE envelopes
#   keys/attestation.pub   PEM public key: give it to whoever checks attestations
#
# A key of its own, not the ledger's: docs/provenance.md says why.

ATTESTATION_PRIVATE_KEY_FILE = "attestation.key"
ATTESTATION_PUBLIC_KEY_FILE = "attestation.pub"
_ATTESTATION_NAME = "shiplog-attestation"  # a signed-note name the loader needs; unused


def attestation_public_key_path(settings: Settings) -> Path:
    """Where the attestation public key (PEM) lives."""
    return settings.key_dir / ATTESTATION_PUBLIC_KEY_FILE


def load_or_create_attestation_key(settings: Settings) -> Ed25519PrivateKey:
    """The provenance signing key, created (with its public key beside it) on first use."""
    private = settings.key_dir / ATTESTATION_PRIVATE_KEY_FILE
    public = attestation_public_key_path(settings)
    return _load_or_create(private, public, _ATTESTATION_NAME, "attestation").private_key


def load_attestation_public_key(path: Path) -> Ed25519PublicKey:
    """An ed25519 public key from a PEM file; KeyFileError naming the file if it is not one."""
    return load_public_key(path, _ATTESTATION_NAME).public_key
