"""The loader against osv.dev's export layout: one all.zip per ecosystem, thousands of records.

osv.dev publishes `gs://osv-vulnerabilities/<ECOSYSTEM>/all.zip`, one JSON file per record
named `<id>.json`. The zips here are generated in that layout with the shapes real
records take (GIT-only ranges, `database_specific`, `last_affected`, withdrawn records,
other ecosystems, Ubuntu priorities, legacy PyPI versions) and a few broken ones.
"""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path
from typing import Any

from app.supplychain.advisoryindex import load_advisories
from app.supplychain.matching import affects

PER_ECOSYSTEM = 2500
RELEASES = {"Alpine": "Alpine:v3.19", "Debian": "Debian:12", "PyPI": "PyPI", "npm": "npm"}


def version(ecosystem: str, rng: random.Random) -> str:
    """A fixed version in the grammar the ecosystem really uses."""
    a, b, c = rng.randrange(5), rng.randrange(20), rng.randrange(9)
    if ecosystem == "Alpine":
        suffix = rng.choice(["", "_git20230717", "_p2", "_rc1", "_alpha", "_cvs1", "_svn7", "_hg3"])
        return f"{a}.{b}.{c}{rng.choice(['', 'a'])}{suffix}-r{rng.randrange(9)}"
    if ecosystem == "Debian":
        epoch = rng.choice(["", "1:"])
        suffix = rng.choice(["", "~deb12u1", "+b1", "+deb12u2"])
        return f"{epoch}{a}.{b}.{c}-{rng.randrange(4)}{suffix}"
    if ecosystem == "PyPI":
        return f"{a}.{b}.{c}{rng.choice(['', 'rc1', '.post1', '.dev2', 'b3', '+local.1'])}"
    return f"{a}.{b}.{c}{rng.choice(['', '-beta.2', '-rc.1+build.5', '+sha.1'])}"


def record(ecosystem: str, number: int, rng: random.Random) -> dict[str, Any]:
    """One record of an ecosystem, in one of the shapes osv.dev exports carry."""
    ident = f"{ecosystem.upper()}-{number:05d}"
    base = {"schema_version": "1.6.0", "id": ident, "modified": "2024-05-01T00:00:00Z"}
    package = {"ecosystem": RELEASES[ecosystem], "name": f"pkg{number % 400}"}
    shape = number % 10
    events: list[dict[str, str]] = [{"introduced": "0"}, {"fixed": version(ecosystem, rng)}]
    if shape == 1:
        events = [{"introduced": "0"}, {"last_affected": version(ecosystem, rng)}]
    affected: dict[str, Any] = {
        "package": package,
        "ranges": [{"type": "SEMVER" if ecosystem == "npm" else "ECOSYSTEM", "events": events}],
        "database_specific": {"source": "https://example.org/" + ident, "urgency": ["x"]},
    }
    if shape == 2:  # GIT ranges beside the ecosystem's, with their repository
        affected["ranges"].append(
            {"type": "GIT", "repo": "https://git.example/r", "events": [{"introduced": "0"}]}
        )
    if shape == 3:  # only GIT ranges and a product without a package
        return {**base, "affected": [{"ranges": [{"type": "GIT", "repo": "r", "events": [
            {"introduced": "a" * 40}, {"fixed": "b" * 40}]}]}]}  # fmt: skip
    if shape == 4 and ecosystem == "PyPI":  # legacy versions in the versions list
        affected["versions"] = ["0.1dev-r1234", "1.0", "2.0.0-beta"]
    if shape == 5:
        base["withdrawn"] = "2024-06-01T00:00:00Z"
    if shape == 6:
        base["severity"] = [
            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
        ]
    if shape == 7:
        base["database_specific"] = {"severity": "MODERATE", "cwe_ids": ["CWE-79"]}
    return {**base, "aliases": [f"CVE-2024-{number}"], "affected": [affected]}


def write_exports(root: Path) -> dict[str, int]:
    """The four ecosystems' all.zip plus others'; what each kind of record numbers."""
    rng = random.Random(7)
    counts = {"records": 0, "withdrawn": 0, "skipped": 0}
    for ecosystem in RELEASES:
        folder = root / ecosystem
        folder.mkdir(parents=True)
        with zipfile.ZipFile(folder / "all.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for number in range(PER_ECOSYSTEM):
                item = record(ecosystem, number, rng)
                archive.writestr(f"{item['id']}.json", json.dumps(item))
                counts["records"] += 1
                counts["withdrawn"] += "withdrawn" in item
            archive.writestr(f"{ecosystem}-BROKEN.json", '{"id": "' + ecosystem + '-BROKEN", ')
            bad = record(ecosystem, 99_999, rng)
            bad["affected"][0]["ranges"][0]["events"][1] = {"fixed": "not a version!"}
            archive.writestr(f"{bad['id']}.json", json.dumps(bad))
            counts["skipped"] += 2
    others = root / "Go"
    others.mkdir()
    with zipfile.ZipFile(others / "all.zip", "w") as archive:
        for number in range(200):  # an ecosystem shiplog does not order: read, never matched
            item = {"id": f"GO-{number}", "affected": [{"package": {"ecosystem": "Go",
                    "name": "example.com/m"}, "ranges": [{"type": "SEMVER", "events": [
                    {"introduced": "0"}, {"fixed": "v1.2.3-whatever"}]}]}]}  # fmt: skip
            archive.writestr(f"GO-{number}.json", json.dumps(item))
            counts["records"] += 1
        archive.writestr("GO-LIST.json", "[]")
        counts["skipped"] += 1
    ubuntu = {"id": "UBUNTU-CVE-2024-1", "severity": [{"type": "Ubuntu", "score": "high"}],
              "affected": [{"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "openssl"},
                            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"},
                            {"fixed": "3.0.2-0ubuntu1.15"}]}]}]}  # fmt: skip
    (root / "Ubuntu").mkdir()
    (root / "Ubuntu" / "UBUNTU-CVE-2024-1.json").write_text(json.dumps(ubuntu))
    counts["records"] += 1
    return counts


def test_the_four_export_zips_load_with_every_odd_shape_and_only_broken_records_skipped(
    tmp_path: Path,
) -> None:
    root = tmp_path / "osv"
    counts = write_exports(root)
    loaded = load_advisories(root)
    assert loaded.records == counts["records"] == 4 * PER_ECOSYSTEM + 201
    assert loaded.withdrawn == counts["withdrawn"] == 4 * PER_ECOSYSTEM // 10
    assert len(loaded.skipped) == counts["skipped"] == 9
    reasons = {item.source: (item.id, item.reason) for item in loaded.skipped}
    assert reasons["Alpine/all.zip!Alpine-BROKEN.json"][0] is None
    assert reasons["Alpine/all.zip!Alpine-BROKEN.json"][1].startswith("not JSON")
    assert reasons["PyPI/all.zip!PYPI-99999.json"] == (
        "PYPI-99999",
        "field affected[0].ranges[0].events[1].fixed: 'not a version!' is not a PEP 440 version",
    )
    assert reasons["Go/all.zip!GO-LIST.json"][1].startswith("field (record): expected an object")
    again = load_advisories(root)
    assert again.digest == loaded.digest and again.skipped == loaded.skipped


def test_records_of_the_export_match_in_their_own_version_order(tmp_path: Path) -> None:
    root = tmp_path / "osv"
    write_exports(root)
    loaded = load_advisories(root)
    wanted = [(release, name) for release in RELEASES.values() for name in ("pkg17", "pkg15")]
    candidates = loaded.lookup(wanted)
    for (release, name), found in candidates.items():
        if name == "pkg15":  # records 15, 415, ...: all withdrawn
            assert found == (), release
            continue
        assert len(found) == PER_ECOSYSTEM // 400 + 1, release
        assert all(entry.ecosystem == release for _, entry in found)
        assert all(advisory.severity == "medium" for advisory, _ in found)  # MODERATE
    ubuntu = loaded.candidates("Ubuntu:22.04", "openssl")
    ((advisory, entry),) = ubuntu
    assert advisory.severity == "high"  # Ubuntu's own priority
    assert affects(entry, "3.0.2-0ubuntu1.14") == (True, "3.0.2-0ubuntu1.15")
    assert not affects(entry, "3.0.2-0ubuntu1.15")[0]
    assert loaded.candidates("Go", "example.com/m") == ()  # read, never matched
