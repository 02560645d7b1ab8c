"""Secret masking: every occurrence of a secret value, plain or encoded, becomes `********`.

A step can print a secret as it is, or encoded: base64 (standard or URL-safe
alphabet), URL-encoded (percent escapes in upper or lower case, `+` or `%20` for a
space, or every byte escaped) or hex (lower or upper case). Base64 depends on where
the value starts in the encoded stream, so each of the three alignments is masked:
for each, the characters that encode the value's bytes alone (not the neighbours')
form the pattern. Tools wrap long encodings over several lines (`base64` at 76
characters, `xxd -p` at 60) and logs are stored line by line, so a line that starts
with the end of a pattern, ends with its start, or lies wholly inside it is masked
there too, for pieces of at least FRAGMENT characters.

Encoded forms shorter than MIN_ENCODED characters are not masked: they would hide
ordinary words. Short secrets are therefore masked in their plain form only; secrets
of at least 8 characters are masked in every form.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import quote, quote_plus

MASK: Final = "********"
MIN_ENCODED: Final = 8
"""Encoded forms shorter than this are not masked."""
FRAGMENT: Final = 8
"""The shortest piece of a wrapped encoding that is masked at a line's start or end."""


def _base64_cores(raw: bytes) -> set[str]:
    """For each alignment, the base64 characters that depend on `raw`'s bytes alone."""
    cores: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + raw).decode().rstrip("=")
        first = -(-8 * offset // 6)  # the first character holding no prefix bit
        last = 8 * (offset + len(raw)) // 6  # past the last character holding only raw bits
        core = encoded[first:last]
        cores.add(core)
        cores.add(core.translate(str.maketrans("+/", "-_")))  # the URL-safe alphabet
    return cores


def _url_forms(value: str) -> set[str]:
    """The value percent-encoded as browsers, curl and shells' tools do it (every byte, too)."""
    forms = {quote(value, safe=""), quote(value, safe="/")}
    forms |= {quote_plus(value), quote_plus(value, safe="/")}
    forms.add("".join(f"%{byte:02X}" for byte in value.encode("utf-8")))
    lower = set()
    for form in forms:
        pieces = form.split("%")
        lower.add(pieces[0] + "".join("%" + p[:2].lower() + p[2:] for p in pieces[1:]))
    return forms | lower


def encoded_forms(value: str) -> set[str]:
    """Every encoded form of `value` worth masking (its plain form not included)."""
    raw = value.encode("utf-8")
    hexed = binascii.hexlify(raw).decode()
    forms = _base64_cores(raw) | _url_forms(value) | {hexed, hexed.upper()}
    return {form for form in forms if len(form) >= MIN_ENCODED and form != value}


class Masker:
    """Replaces every occurrence of any of a set of secret values, in any form, with MASK."""

    def __init__(self, secrets: Iterable[str]) -> None:
        patterns: set[str] = set()
        encoded: set[str] = set()
        for value in secrets:
            # Whitespace-only values are skipped: masking them would mangle every line.
            if value.strip():
                patterns.add(value)
                encoded.update(encoded_forms(value))
            if "\n" in value:
                # Logs are stored line by line, so each line of a multi-line secret is masked.
                patterns.update(
                    p for p in (s.removesuffix("\r") for s in value.split("\n")) if p.strip()
                )
        self._patterns = tuple(sorted(patterns | encoded, key=lambda p: (-len(p), p)))
        # Most lines hold no secret: one regular expression says so at C speed.
        self._any = re.compile("|".join(map(re.escape, self._patterns))) if patterns else None
        # Only encodings are wrapped by tools; pieces of a plain value would be words. A
        # wrapped piece starts or ends its line, so the line's first or last FRAGMENT
        # characters are a piece of the pattern: an index of those finds the candidates.
        self._pieces: dict[str, set[str]] = {}
        for pattern in encoded:
            for start in range(len(pattern) - FRAGMENT + 1):
                self._pieces.setdefault(pattern[start : start + FRAGMENT], set()).add(pattern)

    def __repr__(self) -> str:
        return f"<Masker of {len(self._patterns)} values>"

    def __call__(self, line: str) -> str:
        """Same as `mask`: a Masker can be passed wherever a str -> str function is wanted."""
        return self.mask(line)

    def mask(self, line: str) -> str:
        """`line` with every occurrence of every secret form replaced by MASK.

        All occurrences of all patterns are found, overlapping ones included, and
        each run of covered characters becomes one MASK. That hides at least what
        replacing the longest patterns first would, and never leaves the tail of a
        secret visible because another secret overlapped its start.
        """
        spans: list[tuple[int, int]] = []
        if self._any is not None and self._any.search(line):
            for pattern in self._patterns:
                start = line.find(pattern)
                while start >= 0:
                    spans.append((start, start + len(pattern)))
                    start = line.find(pattern, start + 1)
        if len(line) >= FRAGMENT and self._pieces:
            wrapped = self._pieces.get(line[:FRAGMENT], set()) | self._pieces.get(
                line[-FRAGMENT:], set()
            )
            for pattern in sorted(wrapped):
                if len(pattern) > FRAGMENT:
                    spans += _wrapped_pieces(line, pattern)
        if not spans:
            return line
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:  # overlapping or touching: one mask
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        pieces, done = [], 0
        for start, end in merged:
            pieces += [line[done:start], MASK]
            done = end
        pieces.append(line[done:])
        return "".join(pieces)


def _wrapped_pieces(line: str, pattern: str) -> list[tuple[int, int]]:
    """Spans of `line` that are pieces of `pattern` cut by line wrapping.

    The line may start with an end of the pattern, end with a start of it, or be a
    middle part of it; each such piece of FRAGMENT characters or more is a span.
    """
    spans: list[tuple[int, int]] = []
    if len(line) < FRAGMENT:
        return spans
    if 2 * FRAGMENT <= len(line) < len(pattern) and line in pattern:
        return [(0, len(line))]
    head = line[:FRAGMENT]
    at = pattern.find(head, 1)
    while at >= 0:
        tail = pattern[at:]
        if line.startswith(tail):
            spans.append((0, len(tail)))
            break
        at = pattern.find(head, at + 1)
    ending = line[-FRAGMENT:]
    at = pattern.find(ending)
    while 0 <= at < len(pattern) - FRAGMENT:
        start = pattern[: at + FRAGMENT]
        if line.endswith(start):
            spans.append((len(line) - len(start), len(line)))
            break
        at = pattern.find(ending, at + 1)
    return spans
