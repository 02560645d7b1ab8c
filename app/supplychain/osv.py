"""OSV advisory records: found in a local directory, read and checked one by one.

`SHIPLOG_OSV_DIR` holds OSV JSON records, one per `.json` file at any depth, and/or
`.zip` archives of them (the per-ecosystem `all.zip` exports). Nothing is fetched.
A record that is not valid OSV, or whose versions its ecosystem cannot order, cannot
be read: `read_record` answers a SkippedRecord naming the file, the field and why,
and the set is prepared without it (app/supplychain/advisoryindex.py).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

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
    """An advisory record or directory cannot be read; the message names the file and field."""

    def __init__(self, source: str, field: str | None, problem: str) -> None:
        self.source, self.field, self.problem = source, field, problem
        where = f"{source}: field {field}" if field else source
        super().__init__(f"advisory {where}: {problem}")


class NoAdvisories(AdvisoryError):
    """No advisory directory is configured."""

    def __init__(self) -> None:
        ValueError.__init__(
            self, "no advisory directory is configured: set SHIPLOG_OSV_DIR (or pass --osv-dir)"
        )
        self.source, self.field, self.problem = "", None, "no advisory directory"


# Events, ranges, affected entries and advisories are NamedTuples: a scan builds them by
# the thousand from the prepared index, and a tuple is the cheapest immutable record.


class Event(NamedTuple):
    """One event of a range: its kind and version (parsed when the ecosystem is known)."""

    kind: str
    version: str
    key: VersionKey | None


class Range(NamedTuple):
    """An ECOSYSTEM or SEMVER range of an affected package, its events in version order."""

    kind: str
    events: tuple[Event, ...]


class Affected(NamedTuple):
    """One package an advisory affects, in one ecosystem, with its ranges and versions."""

    ecosystem: str
    name: str
    ranges: tuple[Range, ...]
    versions: tuple[str, ...]
    severity: str | None


class Advisory(NamedTuple):
    """An OSV record as far as matching needs it."""

    id: str
    aliases: tuple[str, ...]
    severity: str | None
    affected: tuple[Affected, ...]
    source: str
    withdrawn: bool = False


@dataclass(frozen=True)
class SkippedRecord:
    """A record of the set that could not be read: where, its id if it has one, and why."""

    source: str
    id: str | None
    reason: str

    def as_json(self) -> dict[str, str | None]:
        """The form ScanCompleted and the findings document keep."""
        return {"source": self.source, "id": self.id, "reason": self.reason}


def index_name(ecosystem: str, name: str) -> str:
    """A package name as the index keeps it (PyPI names PEP 503-normalized)."""
    return pep503(name) if ecosystem.split(":", 1)[0] == "PyPI" else name


def record_files(root: Path) -> list[tuple[str, int, int]]:
    """(path relative to `root`, size, mtime in ns) of every `.json` and `.zip` under it.

    Hidden files and folders (the prepared index among them) are not part of the set.
    """
    found: list[tuple[str, int, int]] = []
    pending = [(str(root), "")]
    while pending:
        folder, prefix = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    pending.append((entry.path, f"{prefix}{entry.name}/"))
                elif entry.name.endswith((".json", ".zip")):
                    status = entry.stat()
                    found.append((prefix + entry.name, status.st_size, status.st_mtime_ns))
    return sorted(found)


def read_files(
    root: Path, names: list[str]
) -> Iterator[tuple[str, bytes | None, SkippedRecord | None]]:
    """(source, bytes, None) of every record in these files, zip members included.

    A file that cannot be read, or a zip that is not one, is (source, None, why).
    """
    for relative in names:
        path = root / relative
        try:
            if relative.endswith(".json"):
                with open(path, "rb") as handle:
                    yield relative, handle.read(), None
                continue
            with zipfile.ZipFile(path) as archive:
                for member in sorted(archive.namelist()):
                    if member.endswith(".json"):
                        yield f"{relative}!{member}", archive.read(member), None
        except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
            yield relative, None, SkippedRecord(relative, None, f"cannot be read ({error})")


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
        elif kind == "Ubuntu":  # Ubuntu's own priority words: negligible ... critical
            word = vector
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
    withdrawn = record.get("withdrawn")
    return Advisory(
        id=ident,
        aliases=aliases,
        severity=_severity(record, source, ""),
        affected=tuple(affected),
        source=source,
        withdrawn=isinstance(withdrawn, str) and bool(withdrawn),
    )


def read_record(source: str, data: bytes) -> Advisory | SkippedRecord:
    """One record's bytes as an Advisory, or a SkippedRecord saying why it cannot be read."""
    try:
        parsed = json.loads(data)
    except ValueError as error:
        return SkippedRecord(source, None, f"not JSON ({error})")
    except RecursionError:
        return SkippedRecord(source, None, "not JSON (nested too deeply)")
    try:
        return parse_advisory(parsed, source)
    except AdvisoryError as error:
        ident = parsed.get("id") if isinstance(parsed, dict) else None
        reason = f"field {error.field}: {error.problem}" if error.field else error.problem
        return SkippedRecord(source, ident if isinstance(ident, str) else None, reason)
