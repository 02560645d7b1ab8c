"""Masking of encoded secrets: base64 at every alignment, URL-encoded, hex, and wrapped lines."""

from __future__ import annotations

import base64
import binascii
import re
import textwrap
from urllib.parse import quote, quote_plus

import pytest

from app.executor.actions.masking import MASK, Masker, encoded_forms

SECRET = "pa$$:w0rd/with+odd&chars=ünï"


def masked_everywhere(masker: Masker, text: str) -> bool:
    """True when every line of `text`, once masked, keeps at most one character at each end.

    An encoded character at the edge of the secret also encodes its neighbour (or the
    padding), so it is not the secret's alone: at most 6 bits of it stay visible.
    """
    for line in text.splitlines():
        left = masker.mask(line).replace(MASK, " ").strip().rstrip("=")
        if len(left.replace(" ", "")) > 2:
            return False
    return True


@pytest.mark.parametrize("before", ["", "x", "xy", "xyz", "key=", "Authorization: Basic "])
@pytest.mark.parametrize("after", ["", "\n", "!", "ab"])
def test_base64_is_masked_wherever_the_secret_starts_and_ends_in_the_stream(
    before: str, after: str
) -> None:
    masker = Masker([SECRET])
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        line = encode((before + SECRET + after).encode()).decode()
        masked = masker.mask(line)
        assert MASK in masked
        # What is left are the characters that also encode the neighbours: under 2 each side.
        left, _, right = masked.partition(MASK)
        assert len(left) <= len(encode(before.encode()).decode().rstrip("=")) + 1
        assert len(right.rstrip("=")) <= len(encode(after.encode()).decode().rstrip("=")) + 1


def test_hex_and_url_encoded_forms_are_masked() -> None:
    masker = Masker([SECRET])
    raw = SECRET.encode()
    forms = [
        binascii.hexlify(raw).decode(),
        binascii.hexlify(raw).decode().upper(),
        quote(SECRET, safe=""),
        quote(SECRET),
        quote_plus(SECRET),
        re.sub("%[0-9A-F]{2}", lambda escape: escape.group().lower(), quote(SECRET, safe="")),
    ]
    for form in forms:
        assert masker.mask(f"GET /login?p={form}&next=1") == f"GET /login?p={MASK}&next=1", form


def test_an_encoding_wrapped_over_lines_is_masked_on_every_line() -> None:
    long_secret = "-----BEGIN KEY-----" + "Zx9" * 80 + "-----END KEY-----"
    masker = Masker([long_secret])
    for prefix in ("", "a", "ab"):
        wrapped = base64.encodebytes((prefix + long_secret).encode()).decode()  # 76 a line
        assert len(wrapped.splitlines()) > 3
        assert masked_everywhere(masker, wrapped[4:])
    hexed = textwrap.fill(binascii.hexlify(long_secret.encode()).decode(), 60)  # like xxd -p
    assert masked_everywhere(masker, hexed)


def test_a_short_secret_is_masked_as_written_but_its_short_encodings_are_left_alone() -> None:
    masker = Masker(["ab1"])
    assert masker.mask("ab1") == MASK
    assert encoded_forms("ab1") == {"%61%62%31"}  # "YWIx", "616231": too short to mask safely
    assert masker.mask("YWIx 616231") == "YWIx 616231"


def test_ordinary_words_around_a_plain_secret_are_not_taken_for_pieces_of_it() -> None:
    masker = Masker(["password-for-the-database"])
    assert masker.mask("password is wrong") == "password is wrong"
    assert masker.mask("the database is up") == "the database is up"


def test_every_encoded_form_differs_from_the_plain_value_and_shows_no_part_of_it() -> None:
    forms = encoded_forms("plain-ascii-secret-value")
    assert forms and "plain-ascii-secret-value" not in forms
    assert all(len(form) >= 8 for form in forms)
