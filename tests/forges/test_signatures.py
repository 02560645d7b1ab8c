"""Each forge's signature rule, checked against published vectors and an independent library."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from app.forges.signatures import gitea_refusal, github_refusal, gitlab_refusal, hmac_hex
from app.standard_webhooks import SignatureRefused, signature_header, verify

# GitHub's documented test values ("Validating webhook deliveries"): this secret and body
# must give exactly this signature.
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def test_githubs_published_vector_verifies() -> None:
    headers = {"x-hub-signature-256": GITHUB_SIGNATURE}
    assert github_refusal(GITHUB_SECRET, headers, GITHUB_BODY) is None
    assert "sha256=" + hmac_hex(GITHUB_SECRET, GITHUB_BODY) == GITHUB_SIGNATURE


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({}, GITHUB_BODY, "no X-Hub-Signature-256 header"),
        ({"x-hub-signature-256": GITHUB_SIGNATURE}, b"Hello, World?", "does not match"),
        ({"x-hub-signature-256": GITHUB_SIGNATURE[7:]}, GITHUB_BODY, "not sha256=<hex>"),
        ({"x-hub-signature-256": "sha1=" + "0" * 40}, GITHUB_BODY, "not sha256=<hex>"),
        ({"x-hub-signature-256": "sha256=ünïcode"}, GITHUB_BODY, "does not match"),
    ],
)
def test_github_refuses_what_the_secret_did_not_sign(
    headers: dict[str, str], body: bytes, reason: str
) -> None:
    refusal = github_refusal(GITHUB_SECRET, headers, body)
    assert refusal is not None and reason in refusal


def test_gitea_signs_bare_hex_and_falls_back_to_githubs_header() -> None:
    digest = GITHUB_SIGNATURE.removeprefix("sha256=")
    assert gitea_refusal(GITHUB_SECRET, {"x-gitea-signature": digest}, GITHUB_BODY) is None
    assert gitea_refusal(GITHUB_SECRET, {"x-gitea-signature": digest.upper()}, GITHUB_BODY) is None
    assert gitea_refusal(GITHUB_SECRET, {"x-gitea-signature": GITHUB_SIGNATURE}, GITHUB_BODY)
    only_github = {"x-hub-signature-256": GITHUB_SIGNATURE}
    assert gitea_refusal(GITHUB_SECRET, only_github, GITHUB_BODY) is None
    assert gitea_refusal(GITHUB_SECRET, {}, GITHUB_BODY) == "no X-Gitea-Signature header"


def test_gitlab_token_must_equal_the_secret() -> None:
    assert gitlab_refusal(SECRET, {"x-gitlab-token": SECRET}, b"{}") is None
    assert gitlab_refusal(SECRET, {"x-gitlab-token": SECRET + "x"}, b"{}") == (
        "X-Gitlab-Token does not match"
    )
    assert gitlab_refusal(SECRET, {}, b"{}") == "no X-Gitlab-Token or webhook-signature header"


def test_gitlab_signing_token_verifies_what_the_standard_webhooks_library_signed() -> None:
    body = b'{"object_kind":"push"}'
    now = datetime.now(UTC)
    signature = Webhook(SECRET).sign("msg_1", now, body.decode())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    assert gitlab_refusal(SECRET, headers, body) is None
    tampered = gitlab_refusal(SECRET, headers, body + b" ")
    assert tampered == "webhook-signature: no signature matches"
    late = gitlab_refusal(SECRET, headers, body, now=now + timedelta(minutes=6))
    assert late is not None and "from now" in late


def test_our_signatures_verify_with_the_library_and_during_rotation() -> None:
    old, new = SECRET, "whsec_" + base64.b64encode(b"n" * 32).decode()
    body = b'{"text":"hello"}'
    stamp = int(datetime.now(UTC).timestamp())
    headers = {
        "webhook-id": "msg_2",
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature_header([old, new], "msg_2", stamp, body),
    }
    assert Webhook(old).verify(body, headers) == {"text": "hello"}
    assert Webhook(new).verify(body, headers) == {"text": "hello"}
    assert verify(new, headers, body) == "msg_2"
    with pytest.raises(SignatureRefused, match="no signature matches"):
        verify("whsec_" + base64.b64encode(b"x" * 32).decode(), headers, body)
    expected = base64.b64encode(
        hmac.new(b"k" * 32, f"msg_2.{stamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    assert headers["webhook-signature"].split()[0] == f"v1,{expected}"
