"""Alpine package versions, ordered as apk-tools orders them (its `version.c`).

No maintained Python library knows apk's whole grammar (univers' Alpine version has
neither the `_cvs _svn _git _hg` suffixes nor leading zeros), so this follows the
tokenizer and comparison of apk-tools itself:

    digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r number}

A version is read token by token; each token's kind may only follow certain kinds
(a letter only after a digit, a suffix not after a hash...), else the version is
invalid. Two versions compare token by token while the kinds agree; at the first
difference of kinds, a pre-release suffix (`_alpha _beta _pre _rc`) is lower than
anything, and otherwise the token of the later kind (the end, a revision, a hash...)
is the lower version. Digits after a dot compare as numbers, unless either has a
leading zero: then as text.

`apk_key` turns a version into a tuple whose natural order is exactly that order,
so comparing two versions is comparing two tuples.
"""

from __future__ import annotations

from typing import Any

ApkKey = tuple[Any, ...]

# Token kinds, in apk-tools' order: a kind may only be followed by a later one.
_INITIAL_DIGIT, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _HASH, _REVISION, _END = range(8)

# Suffix values in apk's order: pre-release suffixes sort below "no suffix" (5),
# post-release ones above.
SUFFIXES: dict[str, int] = {
    "alpha": 1,
    "beta": 2,
    "pre": 3,
    "rc": 4,
    "cvs": 6,
    "svn": 7,
    "git": 8,
    "hg": 9,
    "p": 10,
}
_NO_SUFFIX = 5

# Where two versions first differ in the kind of token, the lower version is the one
# whose token comes first here (a pre-release suffix, then the end, then a revision...).
# Tokens of the same kind compare by value.
_PRE_RELEASE_RANK = 0
_INVALID_RANK = 1
_RANK = {
    _END: 2,
    _REVISION: 3,
    _HASH: 4,
    _SUFFIX_NO: 5,
    _SUFFIX: 6,
    _LETTER: 7,
    _DIGIT: 8,
    _INITIAL_DIGIT: 9,
}
_HEX = frozenset("0123456789abcdef")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")


class _Reader:
    """Walks a version string the way apk's tokenizer does."""

    def __init__(self, text: str) -> None:
        self.text, self.at = text, 0

    def span(self, allowed: frozenset[str]) -> str:
        start = self.at
        while self.at < len(self.text) and self.text[self.at] in allowed:
            self.at += 1
        return self.text[start : self.at]

    def digits(self) -> str:
        start = self.at
        while self.at < len(self.text) and "0" <= self.text[self.at] <= "9":
            self.at += 1
        return self.text[start : self.at]


def _digit_value(digits: str) -> tuple[int, Any]:
    """A dotted number: by value, unless it has a leading zero (then as text, below)."""
    return (0, digits) if digits.startswith("0") else (1, int(digits))


def apk_key(text: str, *, strict: bool = True) -> ApkKey:
    """The sort key of an apk version; ValueError if apk-tools would call it invalid.

    With `strict=False` an invalid version still gets a key, as apk-tools compares one:
    token by token up to the first invalid token, which sorts below the end.
    """
    try:
        return _tokens(text)
    except _Invalid as error:
        if strict:
            raise ValueError(f"{text!r} is not an Alpine package version ({error})") from None
        return (*error.tokens, (_INVALID_RANK,))


class _Invalid(ValueError):
    """Where and why a version stops being valid, with the tokens read before it."""

    def __init__(self, why: str, tokens: list[tuple[Any, ...]]) -> None:
        super().__init__(why)
        self.tokens = tokens


def _tokens(text: str) -> ApkKey:
    reader = _Reader(text)
    first = reader.digits()
    tokens: list[tuple[Any, ...]] = []
    if not first:
        raise _Invalid("it must start with a digit", tokens)
    tokens.append((_RANK[_INITIAL_DIGIT], int(first)))
    kind = _INITIAL_DIGIT
    while reader.at < len(text):
        char = text[reader.at]
        if char in _LOWER and kind <= _DIGIT:
            reader.at += 1
            kind = _LETTER
            tokens.append((_RANK[kind], char))
        elif (char == "." and kind <= _DIGIT) or ("0" <= char <= "9" and kind == _SUFFIX):
            reader.at += char == "."
            digits = reader.digits()
            if not digits:
                raise _Invalid(f"no digits after position {reader.at}", tokens)
            if kind == _SUFFIX:
                kind = _SUFFIX_NO
                tokens.append((_RANK[kind], int(digits)))
            else:
                kind = _DIGIT
                tokens.append((_RANK[kind], _digit_value(digits)))
        elif char == "_" and kind <= _SUFFIX_NO:
            reader.at += 1
            name = reader.span(_LOWER)
            if name not in SUFFIXES:
                raise _Invalid(f"unknown suffix _{name}", tokens)
            kind, value = _SUFFIX, SUFFIXES[name]
            rank = _PRE_RELEASE_RANK if value < _NO_SUFFIX else _RANK[_SUFFIX]
            tokens.append((rank, value))
        elif char == "~" and kind < _HASH:
            reader.at += 1
            commit = reader.span(_HEX)
            if not commit:
                raise _Invalid("no hexadecimal commit hash after ~", tokens)
            kind = _HASH
            tokens.append((_RANK[kind], commit))
        elif char == "-" and kind < _REVISION and text.startswith("-r", reader.at):
            reader.at += 2
            digits = reader.digits()
            if not digits:
                raise _Invalid("no number after -r", tokens)
            kind = _REVISION
            tokens.append((_RANK[kind], int(digits)))
        else:
            raise _Invalid(f"unexpected {char!r} at position {reader.at}", tokens)
    tokens.append((_RANK[_END],))
    return tuple(tokens)


def apk_compare(left: str, right: str) -> int:
    """-1, 0 or 1 as `left` is lower than, equal to or higher than `right`."""
    a, b = apk_key(left), apk_key(right)
    return (a > b) - (a < b)
