"""What the writers and the readers of credentials agree on: secrets' shape and their digest.

Tokens, session cookies and sign-in links are 256-bit random secrets; the database
keeps only their sha256. A slow password hash (argon2, bcrypt) protects guessable
passwords; a uniformly random 256-bit secret cannot be guessed from its sha256, and
a plain digest can be looked up by index on every request without a hashing cost
an attacker could turn into a denial of service (docs/security.md). The commands
that make them (app/services) and the lookups that recognise them (app/queries)
both import this module, since neither may import the other.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "shiplog_"  # lets secret scanners and people recognise a shiplog token
LINK_PREFIX = "shiplog-link_"
SECRET_BYTES = 32
SESSION_COOKIE = "shiplog_session"
SIGNIN_COOKIE = "shiplog_signin"  # the sign-in form's CSRF secret, before any session
MAX_SECRET_LENGTH = 200


def new_secret(prefix: str = "") -> str:
    """A fresh random secret of SECRET_BYTES bytes, URL-safe, after `prefix`."""
    return prefix + secrets.token_urlsafe(SECRET_BYTES)


def secret_digest(secret: str) -> bytes:
    """The sha256 the database keeps of `secret`."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def csrf_for(session_secret: str) -> str:
    """The CSRF token of a session: an HMAC of its secret, so only its holder can make it.

    Pages embed it in their forms; a cross-site request carries the cookie (when
    a browser sends it at all: it is SameSite=Strict) but cannot read the token.
    """
    mac = hmac.new(session_secret.encode("utf-8"), b"shiplog csrf v1", hashlib.sha256)
    return mac.hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Compare two secrets in constant time."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))
