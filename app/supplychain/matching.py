"""Match installed packages against an advisory set, as the OSV range semantics say.

For each package the advisories filed under its ecosystem and name are looked up
(Debian and Alpine by source package, PyPI by normalized name). An advisory for
`Debian:12` matches only Debian 12 packages; one for plain `Debian` matches every
release. A version is affected when it is listed in `versions`, or when a range's
events, in version order, leave it affected: `introduced` (`0`: from the start)
opens, `fixed` (at or above) closes, `last_affected` (above) closes; and when a
range has `limit` events, the version must also be below one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from app.supplychain.advisoryindex import AdvisorySet
from app.supplychain.osv import SEVERITIES, Advisory, Affected, Range
from app.supplychain.packages import Package
from app.supplychain.versions import VersionKey, parser_for
from events.collector import paused_collector


@dataclass(frozen=True)
class Match:
    """One advisory that affects one installed package."""

    advisory: Advisory
    package: Package
    fixed_version: str | None
    severity: str | None


def _in_range(version: VersionKey, rng: Range) -> tuple[bool, str | None]:
    """(affected, the `fixed` version that ends the range it is in) for one range."""
    affected, fixed = False, None
    for event in rng.events:
        if event.kind == "limit":
            continue
        elif event.kind == "introduced" and (event.key is None or version >= event.key):
            affected, fixed = True, None
        elif event.kind == "fixed" and event.key is not None:
            if version >= event.key:
                affected = False
            elif affected and fixed is None:
                fixed = event.version
        elif event.kind == "last_affected" and event.key is not None and version > event.key:
            affected = False
    limits = [e.key for e in rng.events if e.kind == "limit" and e.key is not None]
    if affected and limits and not any(version < limit for limit in limits):
        affected = False
    return affected, fixed if affected else None


def affects(entry: Affected, version_text: str) -> tuple[bool, str | None]:
    """Whether `entry` covers the installed version, and the version that fixes it."""
    parse = parser_for(entry.ecosystem)
    if parse is None:
        return False, None
    try:
        version = parse(version_text)
    except ValueError:
        version = None
    return _affects(entry, version_text, version, parse)


def _affects(
    entry: Affected, text: str, version: VersionKey | None, parse: Callable[[str], VersionKey]
) -> tuple[bool, str | None]:
    """`affects` with the installed version already parsed (None if it does not parse)."""
    if version is None:
        return text in entry.versions, None
    for listed in entry.versions:
        try:
            if listed == text or parse(listed) == version:
                return True, _first_fixed(entry, version)
        except ValueError:
            continue  # listed versions are compared as text when they do not parse
    for rng in entry.ranges:
        hit, fixed = _in_range(version, rng)
        if hit:
            return True, fixed
    return False, None


def _first_fixed(entry: Affected, version: VersionKey) -> str | None:
    """The lowest `fixed` above `version` in any range of `entry`, if one is named."""
    above = [
        (e.key, e.version)
        for r in entry.ranges
        for e in r.events
        if e.kind == "fixed" and e.key is not None and e.key > version
    ]
    return min(above, key=lambda pair: pair[0])[1] if above else None


def ecosystem_matches(advisory_ecosystem: str, package_ecosystem: str) -> bool:
    """`Debian:12` matches `Debian:12`; a bare `Debian` matches any Debian release.

    A suffix after the release (`Ubuntu:22.04:LTS`) still matches that release.
    """
    if ":" not in advisory_ecosystem:
        return advisory_ecosystem == package_ecosystem.split(":", 1)[0]
    return advisory_ecosystem == package_ecosystem or advisory_ecosystem.startswith(
        package_ecosystem + ":"
    )


def match_packages(packages: Iterable[Package], advisories: AdvisorySet) -> list[Match]:
    """Every (advisory, package) pair where the advisory affects the installed version."""
    # Thousands of acyclic entries are built and kept: the collector would only slow it.
    with paused_collector():
        return _match_packages(list(packages), advisories)


def _match_packages(packages: list[Package], advisories: AdvisorySet) -> list[Match]:
    filed = advisories.lookup((p.osv_ecosystem, p.advisory_name) for p in packages)
    found: dict[tuple[str, str], Match] = {}
    for package in packages:
        parse = parser_for(package.osv_ecosystem)
        if parse is None:
            continue
        text = package.advisory_version
        try:
            version = parse(text)
        except ValueError:
            version = None
        for advisory, entry in filed[(package.osv_ecosystem, package.advisory_name)]:
            if not ecosystem_matches(entry.ecosystem, package.osv_ecosystem):
                continue
            hit, fixed = _affects(entry, text, version, parse)
            if hit and (advisory.id, package.purl) not in found:
                severity = entry.severity or advisory.severity
                found[(advisory.id, package.purl)] = Match(advisory, package, fixed, severity)
    return sorted(found.values(), key=lambda m: (m.package.purl, m.advisory.id))


def at_or_above(severity: str | None, threshold: str) -> bool:
    """Whether `severity` is `threshold` or graver (an unknown severity never is)."""
    if severity is None:
        return False
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)
