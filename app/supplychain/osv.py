"""OSV advisories from a local directory: loaded, checked, indexed and digested.

`SHIPLOG_OSV_DIR` holds OSV JSON records, one per `.json` file at any depth, and/or
`.zip` archives of them (the per-ecosystem `all.zip` exports). Nothing is fetched.
A record that is not valid OSV, or whose versions its ecosystem cannot order, is
refused with an AdvisoryError naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4
from cvss.exceptions import CVSSError

from app.supplychain.packages import pep503
from app.supplychain.versions import VersionKey, parser_for

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")
"""Severities from the gravest; `fail_on` names one of them."""

_WORDS = {
    "critical": "critical",
    "high": "high",
    "important": "high",
    "moderate": "medium",
    "medium": "medium",
    "low": "low",
    "negligible": "low",
    "unimportant": "low",
}
_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
_ORDERED_RANGES = ("ECOSYSTEM", "SEMVER")


class AdvisoryError(ValueError):
    """An advisory file is not valid OSV; the message names the file and the field."""

    def __init__(self, source: str, field: str | None, problem: str) -> None:
        self.source, self.field = source, field
        where = f"{source}: field {field}" if field else source
        super().__init__(f"advisory {where}: {problem}")


class NoAdvisories(AdvisoryError):
    """No advisory directory is configured."""

    def __init__(self) -> None:
        ValueError.__init__(
            self, "no advisory directory is configured: set SHIPLOG_OSV_DIR (or pass --osv-dir)"
        )
        self.source, self.field = "", None


@dataclass(frozen=True)
class Event:
    """One event of a range: its kind and version (parsed when the ecosystem is known)."""

    kind: str
    version: str
    key: VersionKey | None


@dataclass(frozen=True)
class Range:
    """An ECOSYSTEM or SEMVER range of an affected package, its events in version order."""

    kind: str
    events: tuple[Event, ...]


@dataclass(frozen=True)
class Affected:
    """One package an advisory affects, in one ecosystem, with its ranges and versions."""

    ecosystem: str
    name: str
    ranges: tuple[Range, ...]
    versions: tuple[str, ...]
    severity: str | None


@dataclass(frozen=True)
class Advisory:
    """An OSV record as far as matching needs it."""

    id: str
    aliases: tuple[str, ...]
    severity: str | None
    affected: tuple[Affected, ...]
    source: str


@dataclass(frozen=True)
class AdvisorySet:
    """Every advisory of a directory, indexed by (ecosystem, package name), with its digest."""

    advisories: tuple[Advisory, ...]
    digest: str
    index: dict[tuple[str, str], tuple[tuple[Advisory, Affected], ...]]

    def candidates(self, ecosystem: str, name: str) -> tuple[tuple[Advisory, Affected], ...]:
        """The (advisory, affected entry) pairs filed under this ecosystem and name."""
        return self.index.get((ecosystem.split(":", 1)[0], index_name(ecosystem, name)), ())


def index_name(ecosystem: str, name: str) -> str:
    """A package name as the index keeps it (PyPI names PEP 503-normalized)."""
    return pep503(name) if ecosystem.split(":", 1)[0] == "PyPI" else name


def _files(root: Path) -> Iterator[tuple[str, bytes]]:
    """(name relative to `root`, bytes) of every OSV record under it, in name order."""
    names: list[str] = []
    for folder, _, files in os.walk(root):
        base = os.path.relpath(folder, root)
        prefix = "" if base == "." else base.replace(os.sep, "/") + "/"
        names += [prefix + name for name in files if name.endswith((".json", ".zip"))]
    for relative in sorted(names):
        path = root / relative
        if relative.endswith(".json"):
            with open(path, "rb") as handle:
                yield relative, handle.read()
        else:
            try:
                with zipfile.ZipFile(path) as archive:
                    for member in sorted(archive.namelist()):
                        if member.endswith(".json"):
                            yield f"{relative}!{member}", archive.read(member)
            except zipfile.BadZipFile as error:
                raise AdvisoryError(relative, None, f"not a zip archive ({error})") from None


def _text(value: Any, source: str, field: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise AdvisoryError(source, field, f"expected a non-empty string, got {value!r}")
    return value


def _list(value: Any, source: str, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise AdvisoryError(source, field, f"expected a list, got {type(value).__name__}")
    return value


def _object(value: Any, source: str, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AdvisoryError(source, field, f"expected an object, got {type(value).__name__}")
    return value


_SCORES: dict[str, str | None] = {}


def _cvss(kind: str, vector: str) -> str | None:
    """The qualitative severity of a CVSS vector (v2 by its base score), memoized."""
    cache_key = f"{kind}:{vector}"
    if cache_key not in _SCORES:
        if kind == "CVSS_V3":
            word = str(CVSS3(vector).severities()[0])
        elif kind == "CVSS_V4":
            word = str(CVSS4(vector).severity)
        elif kind == "CVSS_V2":
            score = float(CVSS2(vector).scores()[0])
            word = "high" if score >= 7 else "medium" if score >= 4 else "low"
        else:
            word = ""
        _SCORES[cache_key] = _WORDS.get(word.lower())
    return _SCORES[cache_key]


def _severity(record: dict[str, Any], source: str, field: str) -> str | None:
    """The gravest severity a record (or affected entry) states: CVSS or a word."""
    found: list[str] = []
    for number, item in enumerate(_list(record.get("severity"), source, f"{field}severity")):
        where = f"{field}severity[{number}]"
        item = _object(item, source, where)
        kind = _text(item.get("type"), source, f"{where}.type")
        score = _text(item.get("score"), source, f"{where}.score")
        assert kind is not None and score is not None
        try:
            word = _cvss(kind, score)
        except (CVSSError, ValueError, KeyError) as error:
            raise AdvisoryError(
                source, f"{where}.score", f"not a valid {kind} vector ({error})"
            ) from None
        if word:
            found.append(word)
    for holder in ("ecosystem_specific", "database_specific"):
        specific = record.get(holder)
        if isinstance(specific, dict) and isinstance(specific.get("severity"), str):
            word = _WORDS.get(specific["severity"].lower())
            if word:
                found.append(word)
    return min(found, key=SEVERITIES.index) if found else None


def _event_order(event: Event) -> tuple[bool, VersionKey]:
    """Events in version order; `introduced: 0` (and unparsed versions) first."""
    return (True, event.key) if event.key is not None else (False, 0)


def _range(raw: Any, ecosystem: str, source: str, field: str) -> Range | None:
    item = _object(raw, source, field)
    kind = _text(item.get("type"), source, f"{field}.type")
    assert kind is not None
    if kind not in (*_ORDERED_RANGES, "GIT"):
        raise AdvisoryError(source, f"{field}.type", f"unknown range type {kind!r}")
    events_raw = _list(item.get("events"), source, f"{field}.events")
    if not events_raw:
        raise AdvisoryError(source, f"{field}.events", "a range needs at least one event")
    if kind == "GIT":
        return None
    parse = parser_for(ecosystem)
    events: list[Event] = []
    for number, event_raw in enumerate(events_raw):
        where = f"{field}.events[{number}]"
        event = _object(event_raw, source, where)
        if len(event) != 1 or next(iter(event)) not in _EVENT_KINDS:
            raise AdvisoryError(
                source, where, f"an event has exactly one of {', '.join(_EVENT_KINDS)}"
            )
        ((event_kind, version),) = event.items()
        text = _text(version, source, f"{where}.{event_kind}")
        assert text is not None
        key = None
        if parse is not None and not (event_kind == "introduced" and text == "0"):
            try:
                key = parse(text)
            except ValueError as error:
                raise AdvisoryError(source, f"{where}.{event_kind}", str(error)) from None
        events.append(Event(event_kind, text, key))
    return Range(kind, tuple(sorted(events, key=_event_order)))


def parse_advisory(data: Any, source: str) -> Advisory:
    """One OSV record, checked; AdvisoryError names the field that is wrong."""
    record = _object(data, source, "(record)")
    ident = _text(record.get("id"), source, "id")
    assert ident is not None
    aliases = tuple(
        str(_text(a, source, f"aliases[{n}]"))
        for n, a in enumerate(_list(record.get("aliases"), source, "aliases"))
    )
    affected: list[Affected] = []
    for number, raw in enumerate(_list(record.get("affected"), source, "affected")):
        field = f"affected[{number}]"
        entry = _object(raw, source, field)
        if entry.get("package") is None:
            continue  # only git ranges or a product without a package: nothing to match
        package = _object(entry["package"], source, f"{field}.package")
        ecosystem = _text(package.get("ecosystem"), source, f"{field}.package.ecosystem")
        name = _text(package.get("name"), source, f"{field}.package.name")
        assert ecosystem is not None and name is not None
        ranges = [
            _range(r, ecosystem, source, f"{field}.ranges[{i}]")
            for i, r in enumerate(_list(entry.get("ranges"), source, f"{field}.ranges"))
        ]
        versions = tuple(
            str(_text(v, source, f"{field}.versions[{i}]"))
            for i, v in enumerate(_list(entry.get("versions"), source, f"{field}.versions"))
        )
        affected.append(
            Affected(
                ecosystem=ecosystem,
                name=name,
                ranges=tuple(r for r in ranges if r is not None),
                versions=versions,
                severity=_severity(entry, source, f"{field}."),
            )
        )
    return Advisory(
        id=ident,
        aliases=aliases,
        severity=_severity(record, source, ""),
        affected=tuple(affected),
        source=source,
    )


_LAST: list[AdvisorySet] = []
"""The set loaded last: a runner scanning image after image reads the same files again."""
_LAST_LOCK = threading.Lock()


def load_advisories(root: Path) -> AdvisorySet:
    """Every OSV record under `root`, checked and indexed; AdvisoryError on the first bad one.

    The files are always read and digested; when their digest is that of the set loaded
    last, that set is returned instead of parsing them all again.
    """
    if not root.is_dir():
        raise AdvisoryError(str(root), None, "the advisory directory does not exist")
    files = list(_files(root))
    hasher = hashlib.sha256()
    for source, data in files:
        hasher.update(f"{source}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    digest = "sha256:" + hasher.hexdigest()
    with _LAST_LOCK:
        if _LAST and _LAST[0].digest == digest:
            return _LAST[0]
    advisories: list[Advisory] = []
    for source, data in files:
        try:
            parsed = json.loads(data)
        except ValueError as error:
            raise AdvisoryError(source, None, f"not JSON ({error})") from None
        advisories.append(parse_advisory(parsed, source))
    index: dict[tuple[str, str], list[tuple[Advisory, Affected]]] = {}
    for advisory in advisories:
        for entry in advisory.affected:
            base = entry.ecosystem.split(":", 1)[0]
            index.setdefault((base, index_name(base, entry.name)), []).append((advisory, entry))
    loaded = AdvisorySet(
        advisories=tuple(advisories),
        digest=digest,
        index={key: tuple(value) for key, value in index.items()},
    )
    with _LAST_LOCK:
        _LAST[:] = [loaded]
    return loaded
