"""Secret masking: every occurrence of a secret value in output becomes `********`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

MASK: Final = "********"


class Masker:
    """Replaces every occurrence of any of a set of secret values with MASK."""

    def __init__(self, secrets: Iterable[str]) -> None:
        patterns: set[str] = set()
        for value in secrets:
            # Whitespace-only values are skipped: masking them would mangle every line.
            if value.strip():
                patterns.add(value)
            if "\n" in value:
                # Logs are stored line by line, so each line of a multi-line secret is masked.
                patterns.update(
                    p for p in (s.removesuffix("\r") for s in value.split("\n")) if p.strip()
                )
        self._patterns = tuple(sorted(patterns, key=lambda p: (-len(p), p)))

    def __repr__(self) -> str:
        return f"<Masker of {len(self._patterns)} values>"

    def __call__(self, line: str) -> str:
        """Same as `mask`: a Masker can be passed wherever a str -> str function is wanted."""
        return self.mask(line)

    def mask(self, line: str) -> str:
        """`line` with every occurrence of every secret value replaced by MASK.

        All occurrences of all values are found, overlapping ones included, and
        each run of covered characters becomes one MASK. That hides at least what
        replacing the longest values first would, and never leaves the tail of a
        secret visible because another secret overlapped its start.
        """
        spans: list[tuple[int, int]] = []
        for pattern in self._patterns:
            start = line.find(pattern)
            while start >= 0:
                spans.append((start, start + len(pattern)))
                start = line.find(pattern, start + 1)
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
