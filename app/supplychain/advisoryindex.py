"""An advisory set prepared once per digest: an index file beside it, looked up per scan.

Reading and checking 50,000 OSV records takes seconds; a scan needs the few records
filed under its packages' names. So the first scan against a set (or after it
changed) reads every record once, and writes what matching needs, by (ecosystem,
package name), to an SQLite file: `.shiplog-advisory-index.sqlite` beside the
records, or under the user's cache folder when the set's folder is read-only, or in
memory when neither can be written. Every later scan only looks up its packages.

Whether the set changed is told by its files' sizes and modification times (the
*fingerprint*, as git and make tell it), without reading them: the index keeps the
fingerprint the set had when its digest was computed. A file modified in the last
two seconds before that is not trusted that way (its time may not have ticked
between two writes), so the set is digested again on the next scan. When only the
times changed, the records are digested again but not parsed again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir

from app.supplychain.osv import (
    Advisory,
    AdvisoryError,
    Affected,
    Event,
    Range,
    SkippedRecord,
    index_name,
    read_files,
    read_record,
    record_files,
)
from app.supplychain.versions import parser_for

INDEX_NAME = ".shiplog-advisory-index.sqlite"
FORMAT = "shiplog-advisory-index 2"  # changes whenever what the index holds changes
RACY_NS = 2_000_000_000
_LOG = logging.getLogger("shiplog.advisories")
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entries (key TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;
"""

Candidates = dict[tuple[str, str], tuple[tuple[Advisory, Affected], ...]]


@dataclass(frozen=True)
class AdvisorySet:
    """A prepared advisory set: its digest, what it holds, and its index to look up in."""

    digest: str
    records: int
    withdrawn: int
    skipped: tuple[SkippedRecord, ...]
    index: Path | None
    _memory: sqlite3.Connection | None = None

    def lookup(self, wanted: Iterable[tuple[str, str]]) -> Candidates:
        """The (advisory, affected entry) pairs filed under each (ecosystem, name) asked for.

        Ecosystems are taken without their release (`Debian:12` is looked up as `Debian`).
        """
        keys = {_key(ecosystem, name): (ecosystem, name) for ecosystem, name in wanted}
        found: dict[tuple[str, str], list[tuple[Advisory, Affected]]] = {
            pair: [] for pair in keys.values()
        }
        with self._connection() as conn:
            names = list(keys)
            for start in range(0, len(names), 500):
                chunk = names[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT key, data FROM entries WHERE key IN ({marks})", chunk)
                for key, data in rows:
                    found[keys[key]] = [_entry(*item) for item in json.loads(data)]
        return {pair: tuple(entries) for pair, entries in found.items()}

    def candidates(self, ecosystem: str, name: str) -> tuple[tuple[Advisory, Affected], ...]:
        """The (advisory, affected entry) pairs filed under this ecosystem and name."""
        return self.lookup([(ecosystem, name)])[(ecosystem, name)]

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A read connection to the index (the in-memory one stays open)."""
        if self._memory is not None:
            yield self._memory
            return
        assert self.index is not None
        conn = _read_only(self.index)
        try:
            yield conn
        finally:
            conn.close()


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _key(ecosystem: str, name: str) -> str:
    base = ecosystem.split(":", 1)[0]
    return f"{base}\0{index_name(base, name)}"


def _entry(
    ident: str,
    aliases: list[str],
    severity: str | None,
    source: str,
    ecosystem: str,
    name: str,
    ranges: list[Any],
    versions: list[str],
    entry_severity: str | None,
) -> tuple[Advisory, Affected]:
    """An indexed entry (the fields `_entry_row` wrote, in order) back as matching needs it."""
    parse = parser_for(ecosystem)
    parsed_ranges = []
    for kind, events in ranges:
        parsed = []
        for event_kind, version in events:
            key = None
            if parse is not None and not (event_kind == "introduced" and version == "0"):
                key = parse(version)
            parsed.append(Event(event_kind, version, key))
        parsed_ranges.append(Range(kind, tuple(parsed)))
    affected = Affected(ecosystem, name, tuple(parsed_ranges), tuple(versions), entry_severity)
    return Advisory(ident, tuple(aliases), severity, (affected,), source), affected


def _entry_row(advisory: Advisory, entry: Affected) -> list[Any]:
    """What the index keeps of one affected entry: a JSON array, `_entry`'s arguments."""
    return [
        advisory.id,
        list(advisory.aliases),
        advisory.severity,
        advisory.source,
        entry.ecosystem,
        entry.name,
        [[r.kind, [[e.kind, e.version] for e in r.events]] for r in entry.ranges],
        list(entry.versions),
        entry.severity,
    ]


def fingerprint(files: list[tuple[str, int, int]]) -> str:
    """sha256 over each file's path, size and modification time: changes when any does."""
    lines = "".join(f"{name}\0{size}\0{mtime}\n" for name, size, mtime in files)
    return hashlib.sha256(f"{FORMAT}\n{lines}".encode()).hexdigest()


def _index_places(root: Path) -> Iterator[Path]:
    """Where the index of `root` may be kept: beside it, else in the user's cache."""
    yield root / INDEX_NAME
    where = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:24]
    yield Path(user_cache_dir("shiplog")) / "advisory-index" / f"{where}.sqlite"


def _read_meta(path: Path) -> dict[str, str] | None:
    """The meta table of an index file, or None if it is missing or not one of ours."""
    if not path.is_file():
        return None
    try:
        conn = _read_only(path)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return meta if meta.get("format") == FORMAT else None


def _prepared(
    path: Path | None, meta: dict[str, str], memory: sqlite3.Connection | None = None
) -> AdvisorySet:
    skipped = tuple(SkippedRecord(**item) for item in json.loads(meta["skipped"]))
    return AdvisorySet(
        digest=meta["digest"],
        records=int(meta["records"]),
        withdrawn=int(meta["withdrawn"]),
        skipped=skipped,
        index=path,
        _memory=memory,
    )


def load_advisories(root: Path) -> AdvisorySet:
    """The advisory set of the OSV records under `root`, prepared once per digest.

    Unreadable records are skipped (logged as warnings, listed in `skipped`); only a
    missing directory is an AdvisoryError.
    """
    if not root.is_dir():
        raise AdvisoryError(str(root), None, "the advisory directory does not exist")
    files = record_files(root)
    now = time.time_ns()
    current = fingerprint(files)
    trusted = max((mtime for _, _, mtime in files), default=0) < now - RACY_NS
    known = [(path, _read_meta(path)) for path in _index_places(root)]
    for path, meta in known:
        if meta is not None and trusted and meta.get("fingerprint") == current:
            return _prepared(path, meta)
    contents = list(read_files(root, [name for name, _, _ in files]))
    digest = set_digest(contents)
    # The fingerprint stands for these contents only if no file changed while they were read.
    stamp = current if trusted and fingerprint(record_files(root)) == current else ""
    for path, meta in known:
        if meta is not None and meta["digest"] == digest:
            _set_fingerprint(path, stamp)
            return _prepared(path, meta)
    return _prepare(root, digest, stamp, contents)


def set_digest(contents: list[tuple[str, bytes | None, SkippedRecord | None]]) -> str:
    """`sha256:<hex>` over the lines `<source>\\0<sha256 hex of its bytes>\\n`, in file order.

    File order is the files' relative paths sorted, a zip's members sorted after it.
    """
    hasher = hashlib.sha256()
    for source, data, _ in contents:
        if data is not None:
            hasher.update(f"{source}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    return "sha256:" + hasher.hexdigest()


def _set_fingerprint(path: Path, stamp: str) -> None:
    try:
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'fingerprint'", (stamp,))
        conn.close()
    except sqlite3.Error:
        pass  # read-only: the set is digested again next time, which is only slower


def _prepare(
    root: Path,
    digest: str,
    stamp: str,
    contents: list[tuple[str, bytes | None, SkippedRecord | None]],
) -> AdvisorySet:
    """Read every record, write the index (beside the set, else cached, else in memory)."""
    groups: dict[str, list[list[Any]]] = {}
    skipped: list[SkippedRecord] = []
    records = withdrawn = 0
    for source, data, problem in contents:
        read = problem if data is None else read_record(source, data)
        if isinstance(read, SkippedRecord):
            _LOG.warning("advisory %s skipped: %s", read.source, read.reason)
            skipped.append(read)
            continue
        assert read is not None
        records += 1
        if read.withdrawn:
            withdrawn += 1
            continue
        for entry in read.affected:
            if parser_for(entry.ecosystem) is not None:
                key = _key(entry.ecosystem, entry.name)
                groups.setdefault(key, []).append(_entry_row(read, entry))
    compact = (",", ":")
    rows = [(key, json.dumps(items, separators=compact)) for key, items in groups.items()]
    meta = {
        "format": FORMAT,
        "digest": digest,
        "fingerprint": stamp,
        "records": str(records),
        "withdrawn": str(withdrawn),
        "skipped": json.dumps([item.as_json() for item in skipped]),
    }
    for path in _index_places(root):
        try:
            _write_index(path, meta, rows)
        except (OSError, sqlite3.Error) as error:
            _LOG.info("advisory index not written to %s: %s", path, error)
            continue
        return _prepared(path, meta)
    memory = sqlite3.connect(":memory:", check_same_thread=False)
    _fill(memory, meta, rows)
    return _prepared(None, meta, memory)


def _fill(conn: sqlite3.Connection, meta: dict[str, str], rows: list[tuple[str, str]]) -> None:
    conn.executescript(_SCHEMA)
    conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
    conn.executemany("INSERT INTO entries VALUES (?, ?)", rows)
    conn.commit()


def _write_index(path: Path, meta: dict[str, str], rows: list[tuple[str, str]]) -> None:
    """Write the index to a new file and move it into place, so readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Each writer its own name: processes, and scan steps running in threads of one runner.
    partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    partial.unlink(missing_ok=True)
    try:
        conn = sqlite3.connect(partial)
        try:
            conn.execute("PRAGMA journal_mode = OFF")
            _fill(conn, meta, rows)
        finally:
            conn.close()
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
