"""Standard Webhooks signatures (https://www.standardwebhooks.com): sign and verify.

The signed content is `<webhook-id>.<webhook-timestamp>.<body>`; the signature is
HMAC-SHA256 under the secret (`whsec_` and the key in base64), sent as
`webhook-signature: v1,<base64>`, several separated by spaces while a secret is being
rotated. shiplog signs its generic JSON notifications this way, and verifies GitLab's
webhooks signed with a signing token the same way, so the rule lives here once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60
"""How far a timestamp may be from now, either way, before a signed request is refused."""


class SignatureRefused(ValueError):
    """A Standard Webhooks request did not verify; the message says why, never the secret."""


def secret_key(secret: str) -> bytes:
    """The HMAC key a `whsec_<base64>` secret holds (the prefix is optional)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a Standard Webhooks secret is `whsec_` and base64") from None
    if not key:
        raise ValueError("a Standard Webhooks secret must not be empty")
    return key


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of `<id>.<timestamp>.<body>` under `secret`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: Iterable[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one signature per secret (several while rotating)."""
    return " ".join(signature(secret, message_id, timestamp, body) for secret in secrets)


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
) -> str:
    """Check a signed request; its `webhook-id` if one signature matches, else SignatureRefused."""
    lower = {name.lower(): value for name, value in headers.items()}
    message_id = lower.get("webhook-id", "")
    stamp = lower.get("webhook-timestamp", "")
    given = lower.get("webhook-signature", "")
    if not (message_id and stamp and given):
        raise SignatureRefused("webhook-id, webhook-timestamp and webhook-signature are needed")
    if not stamp.isdigit():
        raise SignatureRefused("webhook-timestamp is not whole seconds since 1970")
    moment = (now or datetime.now(UTC)).timestamp()
    if abs(moment - int(stamp)) > TOLERANCE_SECONDS:
        raise SignatureRefused(f"webhook-timestamp is more than {TOLERANCE_SECONDS}s from now")
    expected = signature(secret, message_id, int(stamp), body).encode()
    for candidate in given.split():
        if hmac.compare_digest(expected, candidate.encode("utf-8", "replace")):
            return message_id
    raise SignatureRefused("no signature matches")
