"""DSSE envelopes (https://github.com/secure-systems-lab/dsse), signed and checked with ed25519.

An envelope is JSON: `payload` (base64 of the serialized body), `payloadType`
and `signatures`, each `{"keyid": ..., "sig": base64}`. A signature is made
over PAE(payloadType, body), never over the body alone, so a signed statement
cannot be passed off as another kind of document:

    PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

where LEN is the decimal byte length without leading zeros and SP one space.
Verification follows the protocol's order: decode, check a signature with the
given key, check the payload type, then parse the payload. Every rejection is a
BadEnvelope whose message is one line saying what was wrong.

This module does no file or database I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from events.signing import fingerprint

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
_MAX_ENVELOPE_BYTES = 16 * 1024 * 1024
_URL_SAFE = str.maketrans("-_", "+/")  # URL-safe base64 read as standard base64


class BadEnvelope(Exception):
    """An envelope that does not verify; the message says why, in one line."""


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding of a payload type and body: the bytes signed."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def key_id(public_key: Ed25519PublicKey) -> str:
    """The key id written into signatures: hex sha256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return fingerprint(raw)


def sign_envelope(
    body: bytes, private_key: Ed25519PrivateKey, payload_type: str = IN_TOTO_PAYLOAD_TYPE
) -> bytes:
    """A DSSE envelope of `body` with one ed25519 signature, as compact JSON bytes."""
    signature = private_key.sign(pae(payload_type, body))
    envelope = {
        "payload": base64.b64encode(body).decode("ascii"),
        "payloadType": payload_type,
        "signatures": [
            {
                "keyid": key_id(private_key.public_key()),
                "sig": base64.b64encode(signature).decode("ascii"),
            }
        ],
    }
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode("ascii")


@dataclass(frozen=True)
class Verified:
    """What a verified envelope says: its payload parsed, and which key signed it."""

    payload: bytes
    statement: dict[str, Any]
    key_id: str


def _b64(text: object, what: str) -> bytes:
    """Decode standard or URL-safe base64 (DSSE allows both); BadEnvelope naming `what`."""
    if not isinstance(text, str):
        raise BadEnvelope(f"malformed envelope: {what} is not a string")
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded.translate(_URL_SAFE), validate=True)
    except (binascii.Error, ValueError):
        raise BadEnvelope(f"malformed envelope: {what} is not base64") from None


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    """`data` parsed as a JSON object; BadEnvelope saying `malformed <what>: ...` if not one."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as error:
        raise BadEnvelope(f"malformed {what}: not JSON ({error})") from None
    if not isinstance(value, dict):
        raise BadEnvelope(f"malformed {what}: not a JSON object")
    return value


def parse_envelope(data: bytes) -> tuple[str, bytes, list[tuple[str, bytes]]]:
    """(payloadType, body, [(keyid, signature)]) of envelope JSON; BadEnvelope if malformed."""
    if len(data) > _MAX_ENVELOPE_BYTES:
        raise BadEnvelope(f"malformed envelope: larger than {_MAX_ENVELOPE_BYTES} bytes")
    envelope = _json_object(data, "envelope")
    for field in ("payload", "payloadType", "signatures"):
        if field not in envelope:
            raise BadEnvelope(f"malformed envelope: no {field!r} field")
    payload_type = envelope["payloadType"]
    if not isinstance(payload_type, str):
        raise BadEnvelope("malformed envelope: payloadType is not a string")
    body = _b64(envelope["payload"], "payload")
    signatures = envelope["signatures"]
    if not isinstance(signatures, list) or not signatures:
        raise BadEnvelope("malformed envelope: signatures is not a non-empty list")
    parsed = []
    for index, entry in enumerate(signatures):
        if not isinstance(entry, dict) or "sig" not in entry:
            raise BadEnvelope(f"malformed envelope: signatures[{index}] has no 'sig'")
        keyid = entry.get("keyid") or ""
        if not isinstance(keyid, str):
            raise BadEnvelope(f"malformed envelope: signatures[{index}].keyid is not a string")
        parsed.append((keyid, _b64(entry["sig"], f"signatures[{index}].sig")))
    return payload_type, body, parsed


def verify_envelope(
    data: bytes,
    public_key: Ed25519PublicKey,
    *,
    payload_type: str = IN_TOTO_PAYLOAD_TYPE,
) -> Verified:
    """Check an envelope against one public key; the parsed JSON payload, or BadEnvelope."""
    actual_type, body, signatures = parse_envelope(data)
    signed = pae(actual_type, body)
    for _, signature in signatures:
        try:
            public_key.verify(signature, signed)
        except InvalidSignature:
            continue
        break
    else:
        raise BadEnvelope(
            f"bad signature: none of the envelope's {len(signatures)} signature(s) verifies "
            f"with key {key_id(public_key)}"
        )
    if actual_type != payload_type:
        raise BadEnvelope(f"wrong payloadType {actual_type!r}: expected {payload_type!r}")
    return Verified(body, _json_object(body, "payload"), key_id(public_key))
