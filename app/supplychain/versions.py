"""Version order per ecosystem, from maintained libraries (never hand-written comparisons).

Debian and Ubuntu: python-debian's `debian_support.Version` (dpkg order: epochs, `~`).
Alpine: univers' `AlpineLinuxVersion` (apk order: `_rc`, `_p`, `-r<n>`). PyPI:
`packaging.version.Version` (PEP 440, pre-releases before releases). npm: `semver`
(SemVer 2.0 precedence, pre-releases before releases).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, total_ordering
from typing import Any

import semver
from debian.debian_support import Version as DebianVersion
from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version
from univers.versions import AlpineLinuxVersion

VersionKey = Any
"""An object of the ecosystem's version class: compare two with < and ==."""


@total_ordering
class _Apk:
    """univers' Alpine version with every comparison defined."""

    __slots__ = ("value",)

    def __init__(self, text: str) -> None:
        self.value = AlpineLinuxVersion(text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Apk) and bool(self.value == other.value)

    def __lt__(self, other: _Apk) -> bool:
        return bool(self.value < other.value)

    def __hash__(self) -> int:
        return hash(str(self.value))


def _debian(text: str) -> VersionKey:
    if not text or not text[0].isdigit():
        raise ValueError(f"{text!r} is not a Debian version (it must start with a digit)")
    return DebianVersion(text)


def _pypi(text: str) -> VersionKey:
    try:
        return Pep440Version(text)
    except InvalidVersion:
        raise ValueError(f"{text!r} is not a PEP 440 version") from None


def _npm(text: str) -> VersionKey:
    try:
        return semver.Version.parse(text.removeprefix("v"))
    except (ValueError, TypeError):
        raise ValueError(f"{text!r} is not a SemVer version") from None


def _apk(text: str) -> VersionKey:
    try:
        return _Apk(text)
    except Exception:  # univers raises its own InvalidVersion or a ValueError
        raise ValueError(f"{text!r} is not an Alpine package version") from None


def _memo(parse: Callable[[str], VersionKey]) -> Callable[[str], VersionKey]:
    """`parse` remembering its last results: advisory sets repeat the same versions a lot.

    The version objects are never changed after parsing, so sharing them is safe; a
    failure is not remembered (it raises again, the same way, each time).
    """
    return lru_cache(maxsize=1 << 16)(parse)


PARSERS: dict[str, Callable[[str], VersionKey]] = {
    "Debian": _memo(_debian),
    "Ubuntu": _memo(_debian),
    "Alpine": _memo(_apk),
    "PyPI": _memo(_pypi),
    "npm": _memo(_npm),
}
"""Version parsers by OSV ecosystem (without its release); each raises ValueError."""


def parser_for(ecosystem: str) -> Callable[[str], VersionKey] | None:
    """The version parser of an OSV ecosystem such as `Debian:12`, or None if unknown."""
    return PARSERS.get(ecosystem.split(":", 1)[0])
