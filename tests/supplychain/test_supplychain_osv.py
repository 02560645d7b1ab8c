"""OSV advisory sets: loading, unreadable records skipped by name, digests, range semantics."""

from __future__ import annotations

import json
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from app.supplychain import advisoryindex
from app.supplychain.advisoryindex import INDEX_NAME, load_advisories
from app.supplychain.matching import affects, at_or_above, ecosystem_matches
from app.supplychain.osv import AdvisoryError, SkippedRecord, parse_advisory
from app.supplychain.service import advisories_from
from tests.support.supplychain_samples import fixed, osv, write_advisories


def entry(ecosystem: str, *events: dict[str, str], kind: str = "ECOSYSTEM") -> Any:
    """The affected entry of a one-range record in `ecosystem`."""
    record = osv("X-1", ecosystem, "pkg", ranges=[{"type": kind, "events": list(events)}])
    return parse_advisory(record, "x.json").affected[0]


def skipped(tmp_path: Path, record: Any, name: str = "bad.json") -> SkippedRecord:
    """What loading a directory holding `record` (written as given) and a good one skips."""
    directory = write_advisories(tmp_path / "osv", [osv("GOOD-1", "PyPI", "good")])
    text = record if isinstance(record, str) else json.dumps(record)
    (directory / name).parent.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text)
    loaded = load_advisories(directory)
    assert loaded.records == 1 and [a.id for a, _ in loaded.candidates("PyPI", "good")]
    (only,) = loaded.skipped
    return only


@pytest.mark.parametrize(
    ("record", "field", "words"),
    [
        ("{not json", None, "not JSON"),
        ({"affected": []}, "id", "expected a non-empty string"),
        ({"id": "A", "aliases": "CVE-1"}, "aliases", "expected a list"),
        (
            osv("A", "PyPI", "p", ranges=fixed("not a version!")),
            "affected[0].ranges[0].events[1].fixed",
            "is not a PEP 440 version",
        ),
        (
            osv("A", "Debian:12", "p", ranges=fixed("abc")),
            "affected[0].ranges[0].events[1].fixed",
            "is not a Debian version: the upstream version must start with a digit",
        ),
        (
            osv("A", "npm", "p", ranges=[{"type": "SEMVER", "events": [{"introduced": "1.x"}]}]),
            "affected[0].ranges[0].events[0].introduced",
            "is not a SemVer version",
        ),
        (
            osv("A", "npm", "p", ranges=[{"type": "SEMVER", "events": [{"fixed": "1", "a": 2}]}]),
            "affected[0].ranges[0].events[0]",
            "exactly one of introduced, fixed, last_affected, limit",
        ),
        (
            osv("A", "npm", "p", ranges=[{"type": "RANGE", "events": [{"fixed": "1.0.0"}]}]),
            "affected[0].ranges[0].type",
            "unknown range type",
        ),
        (
            {**osv("A", "npm", "p"), "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:Q"}]},
            "severity[0].score",
            "not a valid CVSS_V3 vector",
        ),
        (
            {"id": "A", "affected": [{"package": {"name": "p"}}]},
            "affected[0].package.ecosystem",
            "expected a non-empty string",
        ),
    ],
)
def test_an_unreadable_record_is_skipped_naming_the_file_the_field_and_why(
    tmp_path: Path, record: Any, field: str | None, words: str, caplog: pytest.LogCaptureFixture
) -> None:
    bad = skipped(tmp_path, record, "PyPI/bad-one.json")
    assert bad.source == "PyPI/bad-one.json"
    assert bad.id == (record.get("id") if isinstance(record, dict) else None)
    assert words in bad.reason
    if field:
        assert bad.reason.startswith(f"field {field}: ")
    assert f"advisory PyPI/bad-one.json skipped: {bad.reason}" in caplog.text  # a warning


def test_zip_exports_are_read_and_an_unreadable_member_is_skipped_by_name(tmp_path: Path) -> None:
    directory = tmp_path / "osv"
    directory.mkdir()
    with zipfile.ZipFile(directory / "all.zip", "w") as archive:
        archive.writestr(
            "GHSA-1.json",
            json.dumps(osv("GHSA-1", "npm", "a", ranges=fixed("1.0.0", kind="SEMVER"))),
        )
        archive.writestr("GHSA-2.json", json.dumps(osv("GHSA-2", "npm", "b", versions=["1.0.0"])))
    loaded = load_advisories(directory)
    assert loaded.records == 2 and loaded.skipped == ()
    assert [a.id for a, _ in loaded.candidates("npm", "b")] == ["GHSA-2"]
    with zipfile.ZipFile(directory / "all.zip", "a") as archive:
        archive.writestr("GHSA-3.json", "[]")
    (directory / "broken.zip").write_bytes(b"PK not really")
    again = load_advisories(directory)
    assert again.records == 2
    assert [(s.source, s.reason[:40]) for s in again.skipped] == [
        ("all.zip!GHSA-3.json", "field (record): expected an object, got "),
        ("broken.zip", "cannot be read (File is not a zip file)"),
    ]


def test_the_advisory_set_digest_changes_with_any_file_and_only_then(tmp_path: Path) -> None:
    records = [
        osv("A-1", "PyPI", "p", ranges=fixed("1.0")),
        osv("A-2", "PyPI", "q", ranges=fixed("2")),
    ]
    first = load_advisories(write_advisories(tmp_path / "one", records))
    again = load_advisories(write_advisories(tmp_path / "two", list(reversed(records))))
    assert first.digest == again.digest
    changed = [records[0], osv("A-2", "PyPI", "q", ranges=fixed("3"))]
    assert load_advisories(write_advisories(tmp_path / "three", changed)).digest != first.digest


def test_a_missing_advisory_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AdvisoryError, match="does not exist"):
        load_advisories(tmp_path / "nowhere")


def test_debian_order_honours_epochs_and_tildes() -> None:
    assert affects(entry("Debian:12", {"introduced": "0"}, {"fixed": "1:1.0-1"}), "2.0-1") == (
        True,
        "1:1.0-1",
    )  # no epoch is epoch 0, below any 1:
    assert affects(entry("Debian:12", {"introduced": "0"}, {"fixed": "1.0-1"}), "1.0-1~rc1")[0]
    assert not affects(entry("Debian:12", {"introduced": "0"}, {"fixed": "1.0~rc1-1"}), "1.0-1")[0]


def test_pep440_prereleases_sort_before_their_release() -> None:
    window = entry("PyPI", {"introduced": "2.0.0a1"}, {"fixed": "2.0.0"})
    assert affects(window, "2.0.0rc1") == (True, "2.0.0")
    assert not affects(window, "2.0.0")[0]
    assert not affects(window, "1.9.9")[0]
    assert not affects(window, "2.0.0.post1")[0]


def test_a_reintroduced_range_and_a_limit_follow_the_osv_algorithm() -> None:
    twice = entry(
        "npm",
        {"introduced": "1.0.0"},
        {"fixed": "1.2.0"},
        {"introduced": "2.0.0"},
        {"fixed": "2.1.0"},
        kind="SEMVER",
    )
    assert affects(twice, "1.1.0") == (True, "1.2.0")
    assert not affects(twice, "1.5.0")[0]
    assert affects(twice, "2.0.5") == (True, "2.1.0")
    assert not affects(twice, "2.0.0-rc.1")[0]  # a pre-release is before its release
    limited = entry("Alpine:v3.19", {"introduced": "0"}, {"limit": "1.5-r0"})
    assert affects(limited, "1.4-r9")[0]
    assert not affects(limited, "1.5-r0")[0]
    last = entry("PyPI", {"introduced": "0"}, {"last_affected": "1.4"})
    assert affects(last, "1.4") == (True, None)
    assert not affects(last, "1.4.1")[0]


def test_severity_thresholds_include_graver_findings_and_never_unknown_ones() -> None:
    assert at_or_above("critical", "high")
    assert at_or_above("high", "high")
    assert not at_or_above("medium", "high")
    assert not at_or_above(None, "low")


def test_without_an_advisory_directory_a_scan_says_how_to_configure_one() -> None:
    with pytest.raises(AdvisoryError) as caught:
        advisories_from(None)
    assert str(caught.value) == (
        "no advisory directory is configured: set SHIPLOG_OSV_DIR (or pass --osv-dir)"
    )


def test_the_index_is_prepared_once_beside_the_set_and_again_when_a_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = write_advisories(tmp_path / "osv", [osv("A-1", "PyPI", "p", ranges=fixed("1.0"))])
    old = 1_600_000_000
    for path in directory.rglob("*.json"):
        os.utime(path, (old, old))  # not modified just now, so the fingerprint is trusted
    first = load_advisories(directory)
    assert first.index == directory / INDEX_NAME
    parsed: list[str] = []
    monkeypatch.setattr(advisoryindex, "read_record", lambda s, d: parsed.append(s))
    again = load_advisories(directory)  # fingerprint unchanged: no record is read again
    assert parsed == [] and again.digest == first.digest
    for path in directory.rglob("*.json"):
        os.utime(path, (old + 5, old + 5))  # touched, same bytes: digested, not parsed
    assert load_advisories(directory).digest == first.digest and parsed == []
    monkeypatch.undo()
    write_advisories(directory, [osv("A-1", "PyPI", "p", ranges=fixed("2.0"))])
    changed = load_advisories(directory)
    assert changed.digest != first.digest
    ((_, entry),) = changed.candidates("PyPI", "p")
    assert affects(entry, "1.5") == (True, "2.0")


def test_a_read_only_set_is_indexed_in_the_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = write_advisories(tmp_path / "osv", [osv("A-1", "PyPI", "p", ranges=fixed("1.0"))])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    directory.chmod(0o555)
    try:
        loaded = load_advisories(directory)
    finally:
        directory.chmod(0o755)
    if os.geteuid() != 0:  # root writes anywhere
        assert loaded.index is not None and loaded.index.is_relative_to(tmp_path / "cache")
    assert [a.id for a, _ in loaded.candidates("PyPI", "p")] == ["A-1"]


def test_withdrawn_records_are_read_but_never_match(tmp_path: Path) -> None:
    withdrawn = {
        **osv("W-1", "PyPI", "p", ranges=fixed("2.0")),
        "withdrawn": "2024-01-01T00:00:00Z",
    }
    loaded = load_advisories(write_advisories(tmp_path / "osv", [withdrawn]))
    assert (loaded.records, loaded.withdrawn, loaded.skipped) == (1, 1, ())
    assert loaded.candidates("PyPI", "p") == ()


def test_an_advisoryecosystem_matches_its_release_only_with_or_without_a_suffix() -> None:
    assert ecosystem_matches("Debian:12", "Debian:12")
    assert ecosystem_matches("Debian", "Debian:11")
    assert ecosystem_matches("Ubuntu:22.04:LTS", "Ubuntu:22.04")
    assert not ecosystem_matches("Debian:11", "Debian:12")
    assert not ecosystem_matches("Ubuntu:22.04:LTS", "Ubuntu:22.0")
    assert not ecosystem_matches("Alpine:v3.18", "Alpine:v3.19")


def test_scans_preparing_the_same_set_at_once_agree_and_leave_one_index(tmp_path: Path) -> None:
    records = [osv(f"A-{n}", "PyPI", f"p{n % 7}", ranges=fixed("1.0")) for n in range(300)]
    directory = write_advisories(tmp_path / "osv", records)
    with ThreadPoolExecutor(4) as pool:
        loaded = list(pool.map(lambda _: load_advisories(directory), range(4)))
    assert len({item.digest for item in loaded}) == 1
    assert all(len(item.candidates("PyPI", "p3")) == 43 for item in loaded)
    assert sorted(p.name for p in directory.iterdir() if p.name.startswith(".")) == [INDEX_NAME]
