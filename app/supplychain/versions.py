"""Version order per ecosystem, each exactly as that ecosystem's own tool orders versions.

Every parser returns a *sort key*: a value whose natural order (`<`, `==`) is the
ecosystem's version order, so matching a package against thousands of ranges is
comparing keys, not calling a comparison function each time.

- PyPI: `packaging.version.Version` (PEP 440: epochs, pre-, post- and dev-releases,
  local versions), the reference implementation; its objects compare by key already.
- npm: SemVer 2.0, checked by `semver.Version.parse`; the key follows the precedence
  rules of semver.org §11 (pre-release identifiers numeric below alphanumeric, a longer
  list above its prefix, build metadata ignored). The library's own comparison is
  right but costs a Python call per comparison; the tests check the key against it.
- Debian and Ubuntu: dpkg's own algorithm, split as `parseversion` splits and ordered
  as `verrevcmp` orders (`~` below everything, even the end; letters below other
  characters; digit runs by value), tested with dpkg's test vectors and against
  python-debian's comparison. That library's order is the same, but it runs a regular
  expression per comparison (30 µs), and it reads `1.0-` (an empty revision, which
  dpkg allows) as the upstream version `1.0-`.
- Alpine: app/supplychain/apkversion.py, apk-tools' own algorithm (no library has it).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import semver
from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version

from app.supplychain.apkversion import apk_key

VersionKey = Any
"""A version's sort key in its ecosystem: compare two keys of one ecosystem with < and ==."""


def _dpkg_order(char: str) -> int:
    """dpkg's weight of a character outside a digit run: `~` < end < letters < the rest."""
    if char == "~":
        return -1
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


_END = (0,)
# A (digit run, following text) element that changes nothing: 0 followed by the end.
_NOTHING = (0, _END)


def dpkg_part_key(part: str) -> tuple[Any, ...]:
    """The key of an upstream version or revision in dpkg's `verrevcmp` order.

    dpkg compares alternately a run of non-digits (character by character, the end
    weighing 0) and a run of digits (by value, an absent run being 0), padding the
    shorter string with nothing. The key is the leading non-digit run, then one
    (number, following non-digits) element per digit run, then `_NOTHING` standing
    for the padding: elements equal to it at the end are dropped, so two keys differ
    exactly where dpkg would see a difference.
    """
    runs: list[str] = []
    start = 0
    for position in range(1, len(part) + 1):
        if position == len(part) or part[position].isdigit() != part[start].isdigit():
            runs.append(part[start:position])
            start = position
    if not runs or runs[0][:1].isdigit():
        runs.insert(0, "")
    leading = tuple(_dpkg_order(c) for c in runs[0]) + _END
    elements: list[tuple[Any, ...]] = []
    for index in range(1, len(runs), 2):
        text = runs[index + 1] if index + 1 < len(runs) else ""
        elements.append((int(runs[index]), tuple(_dpkg_order(c) for c in text) + _END))
    while elements and elements[-1] == _NOTHING:
        elements.pop()
    return (leading, *elements, _NOTHING)


_UPSTREAM_CHARS = frozenset("0123456789.+~-:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_REVISION_CHARS = _UPSTREAM_CHARS - {"-", ":"}


def debian_key(text: str, *, strict: bool = True) -> VersionKey:
    """The sort key of a Debian version (`[epoch:]upstream[-revision]`); ValueError if invalid.

    Split as dpkg's `parseversion` does: the epoch before the first colon, the revision
    after the last hyphen (an empty one is no revision). `strict` also refuses what
    dpkg warns about (an upstream version not starting with a digit, characters the
    Debian Policy does not allow); the order itself never depends on it.
    """
    version = text.strip()
    epoch_text, colon, rest = version.partition(":")
    if not colon:
        epoch_text, rest = "0", version
    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        upstream, revision = rest, ""
    problem = None
    if not version or any(c.isspace() for c in version):
        problem = "it is empty or has spaces"
    elif not (epoch_text.isascii() and epoch_text.isdigit()):
        problem = f"the epoch {epoch_text!r} is not a number"
    elif not upstream:
        problem = "the upstream version is empty"
    elif strict and not upstream[0].isdigit():
        problem = "the upstream version must start with a digit"
    elif strict and not (set(upstream) <= _UPSTREAM_CHARS and set(revision) <= _REVISION_CHARS):
        problem = "only letters, digits and . + ~ (and - : upstream) are allowed"
    if problem:
        raise ValueError(f"{text!r} is not a Debian version: {problem}")
    return (int(epoch_text), dpkg_part_key(upstream), dpkg_part_key(revision))


def pypi_key(text: str) -> VersionKey:
    """A PEP 440 version (it orders itself); ValueError if it is not one."""
    try:
        return Pep440Version(text)
    except InvalidVersion:
        raise ValueError(f"{text!r} is not a PEP 440 version") from None


def semver_key(text: str) -> VersionKey:
    """The sort key of a SemVer 2.0 version (a leading `v` allowed); ValueError if not one."""
    try:
        version = semver.Version.parse(text.removeprefix("v"))
    except (ValueError, TypeError):
        raise ValueError(f"{text!r} is not a SemVer version") from None
    if version.prerelease is None:
        release: tuple[Any, ...] = (1,)
    else:
        release = (
            0,
            *(
                (0, int(part)) if part.isdigit() else (1, part)
                for part in version.prerelease.split(".")
            ),
        )
    return (version.major, version.minor, version.patch, release)


def alpine_key(text: str) -> VersionKey:
    """The sort key of an apk version; ValueError if apk-tools would refuse it."""
    return apk_key(text)


def _memo(parse: Callable[[str], VersionKey]) -> Callable[[str], VersionKey]:
    """`parse` remembering its last results: advisory sets repeat the same versions a lot.

    Keys are never changed after parsing, so sharing them is safe; a failure is not
    remembered (it raises again, the same way, each time).
    """
    return lru_cache(maxsize=1 << 16)(parse)


PARSERS: dict[str, Callable[[str], VersionKey]] = {
    "Debian": _memo(debian_key),
    "Ubuntu": _memo(debian_key),
    "Alpine": _memo(alpine_key),
    "PyPI": _memo(pypi_key),
    "npm": _memo(semver_key),
}
"""Version parsers by OSV ecosystem (without its release); each raises ValueError."""


def parser_for(ecosystem: str) -> Callable[[str], VersionKey] | None:
    """The version parser of an OSV ecosystem such as `Debian:12`, or None if unknown."""
    return PARSERS.get(ecosystem.split(":", 1)[0])
