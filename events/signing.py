"""Signed checkpoints: ed25519 signatures over C2SP tlog-checkpoint bodies, as C2SP signed notes.

A checkpoint body (https://c2sp.org/tlog-checkpoint) names the ledger (its
origin), the tree size and the base64 root, one per line:

    shiplog
    1234
    Gd8Yx3...=

A signed note (https://c2sp.org/signed-note) is that body, a blank line, and one
signature line per signer:

    — shiplog AbCdEf...

where the base64 decodes to a 4-byte key hash followed by the 64-byte ed25519
signature of the body (final newline included). The key hash is the first four
bytes of SHA-256(name || 0x0A || 0x01 || raw public key). Any tool that speaks
signed notes (Go's golang.org/x/mod/sumdb/note, sigsum, ...) can check these.

This module does no file I/O: keys come in as objects or PEM text (app/keys.py
stores them).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from events.errors import InvalidNote

SIGNATURE_PREFIX = "\u2014 "  # em dash and space start every signature line
_ED25519 = b"\x01"  # signature type byte of ed25519 in key hashes
_SIGNATURE_SIZE = 64
_MAX_NOTE_BYTES = 64 * 1024
_MAX_SIGNATURES = 100


@dataclass(frozen=True)
class CheckpointBody:
    """What a checkpoint states: the ledger's origin, a tree size and that tree's root."""

    origin: str
    tree_size: int
    root: bytes

    def text(self) -> str:
        """The C2SP tlog-checkpoint body: origin, size and base64 root, each on its own line."""
        return f"{self.origin}\n{self.tree_size}\n{base64.b64encode(self.root).decode()}\n"


@dataclass(frozen=True)
class SignedNote:
    """A parsed signed note: its body text and its (name, key hash, signature) lines."""

    text: str
    signatures: tuple[tuple[str, bytes, bytes], ...]


def check_key_name(name: str) -> str:
    """Return `name` if it may name a signed-note key (non-empty, no spaces, no '+')."""
    if not name or any(ch.isspace() or ch == "+" or ord(ch) < 0x20 for ch in name):
        raise ValueError(f"invalid key name {name!r}: must be non-empty, without spaces or '+'")
    return name


def note_key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte C2SP key hash of an ed25519 key known by `name`."""
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public_key).digest()[:4]


def fingerprint(public_key: bytes) -> str:
    """The stable key id stored with checkpoints: hex SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(public_key).hexdigest()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an ed25519 public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class CheckpointVerifier:
    """Checks signed checkpoints made by one ed25519 key under one name."""

    def __init__(self, public_key: Ed25519PublicKey, name: str) -> None:
        """Verify signatures by `public_key` on checkpoints whose origin is `name`."""
        self.public_key = public_key
        self.name = check_key_name(name)
        self.raw_public_key = _raw_public(public_key)
        self.key_hash = note_key_hash(name, self.raw_public_key)
        self.key_id = fingerprint(self.raw_public_key)

    @classmethod
    def from_pem(cls, pem: str | bytes, name: str) -> CheckpointVerifier:
        """A verifier from a PEM ed25519 public key (SubjectPublicKeyInfo); ValueError if not."""
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as error:
            raise ValueError(f"not a PEM public key: {error}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the public key is not an ed25519 key")
        return cls(key, name)

    def public_pem(self) -> str:
        """The public key as PEM text, for sharing with whoever checks proofs."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def verify_signature(self, body: CheckpointBody, signature: bytes) -> bool:
        """True when `signature` is this key's ed25519 signature of the checkpoint body."""
        if body.origin != self.name or len(signature) != _SIGNATURE_SIZE:
            return False
        try:
            self.public_key.verify(signature, body.text().encode())
        except InvalidSignature:
            return False
        return True

    def open(self, note: str) -> CheckpointBody:
        """Verify a signed checkpoint note and return its body; InvalidNote says what is wrong."""
        parsed = parse_note(note)
        mine = [
            signature
            for name, key_hash, signature in parsed.signatures
            if name == self.name and key_hash == self.key_hash
        ]
        if not mine:
            raise InvalidNote(f"the note carries no signature by key {self.name!r} ({self.key_id})")
        try:
            if len(mine[0]) != _SIGNATURE_SIZE:
                raise InvalidSignature
            self.public_key.verify(mine[0], parsed.text.encode())
        except InvalidSignature:
            raise InvalidNote("the note's signature does not verify with the given key") from None
        body = parse_checkpoint(parsed.text)
        if body.origin != self.name:
            raise InvalidNote(f"the checkpoint's origin is {body.origin!r}, not {self.name!r}")
        return body


class CheckpointSigner(CheckpointVerifier):
    """Signs checkpoints with an ed25519 private key under one name (the ledger's origin)."""

    def __init__(self, private_key: Ed25519PrivateKey, name: str) -> None:
        """Sign checkpoints of the ledger `name` with `private_key`."""
        super().__init__(private_key.public_key(), name)
        self.private_key = private_key

    @classmethod
    def generate(cls, name: str) -> CheckpointSigner:
        """A signer with a fresh random key."""
        return cls(Ed25519PrivateKey.generate(), name)

    @classmethod
    def from_private_pem(cls, pem: str | bytes, name: str) -> CheckpointSigner:
        """A signer from an unencrypted PKCS#8 PEM ed25519 private key; ValueError if not one."""
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as error:
            raise ValueError(f"not an unencrypted PEM private key: {error}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the private key is not an ed25519 key")
        return cls(key, name)

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM bytes (keep it secret)."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def verifier(self) -> CheckpointVerifier:
        """A verifier for this signer's signatures (public key only)."""
        return CheckpointVerifier(self.public_key, self.name)

    def sign(self, tree_size: int, root: bytes) -> bytes:
        """The raw 64-byte ed25519 signature of the checkpoint body for this size and root."""
        return self.private_key.sign(CheckpointBody(self.name, tree_size, root).text().encode())


def format_note(body: CheckpointBody, name: str, key_hash: bytes, signature: bytes) -> str:
    """The signed note text: body, blank line, one `— name base64(key hash || sig)` line."""
    encoded = base64.b64encode(key_hash + signature).decode()
    return f"{body.text()}\n{SIGNATURE_PREFIX}{name} {encoded}\n"


def signed_note(verifier: CheckpointVerifier, body: CheckpointBody, signature: bytes) -> str:
    """The signed note of a stored checkpoint signature made by `verifier`'s key."""
    return format_note(body, verifier.name, verifier.key_hash, signature)


def parse_note(note: str) -> SignedNote:
    """Split a signed note into its text and signature lines (nothing verified yet)."""
    if not isinstance(note, str):
        raise InvalidNote("the checkpoint note must be text")
    if len(note.encode("utf-8", "surrogatepass")) > _MAX_NOTE_BYTES:
        raise InvalidNote("the checkpoint note is too large")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise InvalidNote("the checkpoint note contains control characters")
    text, sep, lines = note.rpartition("\n\n")
    if not sep or not note.endswith("\n"):
        raise InvalidNote("not a signed note: expected text, a blank line and signature lines")
    signatures = []
    for line in lines[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise InvalidNote(f"malformed signature line {line[:60]!r}")
        name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            blob = b""
        if not space or not name or len(blob) < 5:
            raise InvalidNote(f"malformed signature line {line[:60]!r}")
        signatures.append((name, blob[:4], blob[4:]))
    if len(signatures) > _MAX_SIGNATURES:
        raise InvalidNote("the checkpoint note has too many signatures")
    return SignedNote(text + "\n", tuple(signatures))


def parse_checkpoint(text: str) -> CheckpointBody:
    """Read a C2SP checkpoint body (origin, size, base64 root; extension lines ignored)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise InvalidNote("a checkpoint needs an origin, a tree size and a root, one per line")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if (
        not size_text.isascii()
        or not size_text.isdigit()
        or (size_text != "0" and size_text[0] == "0")
    ):
        raise InvalidNote(f"checkpoint tree size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError):
        root = b""
    if len(root) != 32:
        raise InvalidNote(f"checkpoint root {root_text!r} is not a base64 SHA-256 hash")
    if not origin:
        raise InvalidNote("the checkpoint has an empty origin line")
    return CheckpointBody(origin, int(size_text), root)


def open_note(note: str, public_key_pem: str) -> CheckpointBody:
    """Verify a checkpoint note with a PEM public key, the key named by the note's origin line."""
    origin = parse_checkpoint(parse_note(note).text).origin
    try:
        verifier = CheckpointVerifier.from_pem(public_key_pem, origin)
    except ValueError as error:
        raise InvalidNote(str(error)) from None
    return verifier.open(note)
