"""Supply-chain benchmark: SBOM of an image of ~500 packages, scan against ~50,000 advisories.

    .venv/bin/python -m bench.supplychain [--reps 3] [--packages 500] [--advisories 50000]

Builds one image on the engine (`shiplog/busybox:1` plus a generated dpkg status of 60%
of --packages, Python dist-infos for 30% and npm package.jsons for 10%, with os-release)
and writes --advisories OSV records to a temporary directory: a quarter for the image's
packages (ranges on both sides of the installed versions), the rest for other names, in
Debian:12, PyPI and npm. Then, --reps times each (medians reported, after a warm-up):

- SBOM: `make_sbom` (create, export and walk, inventory, CycloneDX) beside its baseline,
  a bare `container.export()` of the same image read to the end and discarded;
- advisory load: `load_advisories` (parse, check, index, digest) beside its baseline,
  reading the same files and `json.loads` alone; and loading the unchanged set again
  (read and digested, then the set loaded last is reused);
- scan: `match_packages` of the image's packages (scan throughput, packages per second)
  beside its baseline, the same index look-ups without any version comparison.

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.engine import connect, ensure_busybox_image
from app.supplychain import osv
from app.supplychain.matching import match_packages
from app.supplychain.osv import load_advisories
from app.supplychain.service import make_sbom

TAG = "shiplog-bench/sbom:1"


def generate_image_files(root: Path, packages: int) -> None:
    """A build context whose image holds `packages` packages over three ecosystems."""
    rng = random.Random(1)
    deb, pypi = int(packages * 0.6), int(packages * 0.3)
    npm = packages - deb - pypi
    files: dict[str, str] = {"etc/os-release": 'ID=debian\nVERSION_ID="12"\n'}
    paragraphs = []
    for n in range(deb):
        depends = ", ".join(f"pkg{rng.randrange(deb)} (>= 1.0)" for _ in range(3))
        paragraphs.append(
            f"Package: pkg{n}\nStatus: install ok installed\nArchitecture: amd64\n"
            f"Source: src{n // 2}\nVersion: {n % 7}.{n % 13}-{n % 3}~deb12u1\nDepends: {depends}\n"
        )
    files["var/lib/dpkg/status"] = "\n".join(paragraphs)
    site = "usr/local/lib/python3.11/site-packages"
    for n in range(pypi):
        files[f"{site}/py{n}-1.{n}.0.dist-info/METADATA"] = (
            f"Metadata-Version: 2.1\nName: py{n}\nVersion: 1.{n}.0\nLicense-Expression: MIT\n"
            f"Requires-Dist: py{rng.randrange(pypi)}\n"
        )
    for n in range(npm):
        files[f"app/node_modules/js{n}/package.json"] = json.dumps(
            {"name": f"js{n}", "version": f"2.{n}.1", "license": "MIT"}
        )
    for name, text in files.items():
        path = root / "root" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "Dockerfile").write_text("FROM shiplog/busybox:1\nCOPY root/ /\n")


def generate_advisories(root: Path, count: int, packages: int) -> None:
    """`count` OSV records: a quarter for the image's packages, the rest for other names."""
    rng = random.Random(2)
    deb, pypi = int(packages * 0.6), int(packages * 0.3)
    npm = packages - deb - pypi
    for n in range(count):
        kind = n % 3
        ours = n % 4 == 0
        if kind == 0:
            ecosystem, name = "Debian:12", f"src{rng.randrange(deb // 2)}" if ours else f"other{n}"
            fixed = f"{rng.randrange(8)}.{rng.randrange(14)}-1"
        elif kind == 1:
            ecosystem, name = "PyPI", f"py{rng.randrange(pypi)}" if ours else f"other-{n}"
            fixed = f"1.{rng.randrange(pypi)}.0rc1"
        else:
            ecosystem, name = "npm", f"js{rng.randrange(npm)}" if ours else f"other-{n}"
            fixed = f"2.{rng.randrange(npm)}.0"
        record = {
            "id": f"BENCH-{n}",
            "aliases": [f"CVE-2024-{n}"],
            "severity": [
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}
            ],
            "affected": [
                {
                    "package": {"ecosystem": ecosystem, "name": name},
                    "ranges": [
                        {
                            "type": "SEMVER" if kind == 2 else "ECOSYSTEM",
                            "events": [{"introduced": "0"}, {"fixed": fixed}],
                        }
                    ],
                }
            ],
        }
        folder = root / ecosystem.split(":")[0]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"BENCH-{n}.json").write_text(json.dumps(record))


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def export_only(client: Any, image_id: str) -> int:
    """The baseline of an SBOM: read the image's whole export and discard it."""
    container = client.containers.create(image_id, command=["/x"])
    try:
        return sum(len(chunk) for chunk in container.export(chunk_size=1024 * 1024))
    finally:
        container.remove(force=True)


def json_only(root: Path) -> int:
    """The baseline of loading advisories: read and parse every file, nothing else."""
    return sum(len(json.loads(path.read_bytes())) for path in sorted(root.rglob("*.json")))


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--packages", type=int, default=500)
    parser.add_argument("--advisories", type=int, default=50_000)
    args = parser.parse_args()
    client = connect()
    ensure_busybox_image(client)
    results: dict[str, Any] = {"packages_asked": args.packages, "advisories": args.advisories}
    with tempfile.TemporaryDirectory() as tmp:
        context, osv_dir = Path(tmp) / "image", Path(tmp) / "osv"
        generate_image_files(context, args.packages)
        generate_advisories(osv_dir, args.advisories, args.packages)
        image, _ = client.images.build(path=str(context), tag=TAG, rm=True, forcerm=True)
        try:
            made = make_sbom(client, image.id)  # warm-up
            advisories = load_advisories(osv_dir)
            match_packages(made.packages, advisories)
            figures: dict[str, list[float]] = {
                k: [] for k in ("sbom", "export", "load", "reload", "json", "scan", "lookup")
            }
            for _ in range(max(3, args.reps)):
                figures["sbom"].append(timed(lambda: make_sbom(client, image.id))[0])
                figures["export"].append(timed(lambda: export_only(client, image.id))[0])
                osv._LAST.clear()  # a cold load: parse every record
                figures["load"].append(timed(lambda: load_advisories(osv_dir))[0])
                figures["reload"].append(timed(lambda: load_advisories(osv_dir))[0])
                figures["json"].append(timed(lambda: json_only(osv_dir))[0])
                seconds, matches = timed(lambda: match_packages(made.packages, advisories))
                figures["scan"].append(seconds)
                figures["lookup"].append(
                    timed(
                        lambda: [
                            advisories.candidates(p.osv_ecosystem, p.advisory_name)
                            for p in made.packages
                        ]
                    )[0]
                )
        finally:
            with contextlib.suppress(Exception):
                client.images.remove(image.id, force=True)
    medians = {k: statistics.median(v) for k, v in figures.items()}
    packages = len(made.packages)
    results.update(
        packages=packages,
        findings=len(matches),
        sbom_bytes=len(made.sbom.document),
        medians_s=medians,
        sbom_vs_export=medians["sbom"] / medians["export"],
        load_vs_json=medians["load"] / medians["json"],
        scan_vs_lookup=medians["scan"] / medians["lookup"],
        scan_packages_per_s=packages / medians["scan"],
        scan_with_load_packages_per_s=packages / (medians["scan"] + medians["load"]),
        load_average=os.getloadavg(),
    )
    m, r = medians, results
    print(f"image: {packages} packages, SBOM {r['sbom_bytes']} bytes, {len(matches)} findings")
    print(f"SBOM           {m['sbom']:.3f} s (bare export {m['export']:.3f} s)")
    print(f"advisory load  {m['load']:.3f} s (json.loads alone {m['json']:.3f} s)")
    print(f"same set again {m['reload']:.3f} s (read and digested, not parsed)")
    print(f"scan           {m['scan'] * 1000:.1f} ms (look-ups alone {m['lookup'] * 1000:.2f} ms)")
    print(
        f"ratios: SBOM/export x{r['sbom_vs_export']:.2f}, load/json x{r['load_vs_json']:.2f}, "
        f"scan/look-ups x{r['scan_vs_lookup']:.1f}"
    )
    print(
        f"scan throughput {r['scan_packages_per_s']:.0f} packages/s; "
        f"with the advisory load {r['scan_with_load_packages_per_s']:.0f} packages/s"
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
