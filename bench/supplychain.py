"""Supply-chain benchmark: SBOM of an image of ~500 packages, scan against ~50,000 advisories.

    .venv/bin/python -m bench.supplychain [--reps 3] [--packages 500] [--advisories 50000]

Builds one image on the engine (`shiplog/busybox:1` plus a generated dpkg status of 60%
of --packages, Python dist-infos for 30% and npm package.jsons for 10%, with os-release)
and writes --advisories OSV records twice: as osv.dev exports them (one `all.zip` per
ecosystem) and as one file per record; a quarter name the image's packages (ranges on
both sides of the installed versions), the rest other names, in Debian:12, PyPI and npm.
Then, --reps times each (medians reported, after a warm-up), side by side:

- SBOM: `make_sbom` (create, export and walk, inventory, CycloneDX) beside its baseline,
  a bare `container.export()` of the same image read to the end and discarded;
- cold scan, per layout: the index removed, then `load_advisories` (read, digest, parse
  and check every record, write the index) and `match_packages`; its baseline is reading
  the same records and `json.loads` alone;
- warm scan, per layout: `load_advisories` with the index in place (the files' sizes and
  times, the index's meta) and `match_packages` (look-ups, version comparisons): what
  every scan after the first costs;
- the warm scan's parts: opening the set alone, and the same look-ups without matching.

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
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from app.engine import connect, ensure_busybox_image
from app.supplychain.advisoryindex import INDEX_NAME, AdvisorySet, load_advisories
from app.supplychain.matching import match_packages
from app.supplychain.packages import Package
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
    """`count` OSV records, one file each: a quarter for the image's packages, the rest not."""
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


def zip_exports(files: Path, root: Path) -> None:
    """The records of `files` as osv.dev exports them: `<ecosystem>/all.zip`, one member each."""
    for folder in sorted(files.iterdir()):
        (root / folder.name).mkdir(parents=True)
        with zipfile.ZipFile(root / folder.name / "all.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.iterdir()):
                archive.writestr(path.name, path.read_bytes())


def age(root: Path) -> None:
    """Date every record file a minute back, as a set downloaded earlier is."""
    past = time.time() - 60
    for path in root.rglob("*"):
        os.utime(path, (past, past))


def cold_scan(root: Path, packages: list[Package]) -> int:
    """A scan against a set never prepared: remove its index, load (prepare) and match."""
    (root / INDEX_NAME).unlink(missing_ok=True)
    return len(match_packages(packages, load_advisories(root)))


def warm_scan(root: Path, packages: list[Package]) -> int:
    """A scan against a prepared set: open it and match."""
    return len(match_packages(packages, load_advisories(root)))


def measure_layout(
    root: Path, layout: str, packages: list[Package], figures: dict[str, list[float]]
) -> tuple[int, AdvisorySet]:
    """One repetition of the cold and warm scans of one layout, side by side."""
    measure(figures, f"cold_{layout}", partial(cold_scan, root, packages))
    measure(figures, f"json_{layout}", partial(json_only, root))
    findings: int = measure(figures, f"warm_{layout}", partial(warm_scan, root, packages))
    advisories: AdvisorySet = measure(figures, f"open_{layout}", partial(load_advisories, root))
    wanted = [(p.osv_ecosystem, p.advisory_name) for p in packages]
    measure(figures, f"lookup_{layout}", partial(advisories.lookup, wanted))
    return findings, advisories


def measure(figures: dict[str, list[float]], name: str, func: Callable[[], Any]) -> Any:
    """Call `func`; add its wall time to `figures[name]` and its CPU time to `name_cpu`.

    The CPU time is this process's own: on a machine shared with other work it shows
    what the code costs apart from the time spent waiting for a CPU.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    result = func()
    figures.setdefault(name, []).append(time.perf_counter() - wall)
    figures.setdefault(f"{name}_cpu", []).append(time.process_time() - cpu)
    return result


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
    """The baseline of loading advisories: read and parse every record, nothing else."""
    total = sum(len(json.loads(path.read_bytes())) for path in sorted(root.rglob("*.json")))
    for path in sorted(root.rglob("*.zip")):
        with zipfile.ZipFile(path) as archive:
            total += sum(len(json.loads(archive.read(name))) for name in archive.namelist())
    return total


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
    layouts = ("zip", "files")
    with tempfile.TemporaryDirectory() as tmp:
        context = Path(tmp) / "image"
        dirs = {"files": Path(tmp) / "osv-files", "zip": Path(tmp) / "osv-zip"}
        generate_image_files(context, args.packages)
        generate_advisories(dirs["files"], args.advisories, args.packages)
        zip_exports(dirs["files"], dirs["zip"])
        for root in dirs.values():
            age(root)
        image, _ = client.images.build(path=str(context), tag=TAG, rm=True, forcerm=True)
        try:
            made = make_sbom(client, image.id)  # warm-up
            packages = made.packages
            for layout in layouts:
                cold_scan(dirs[layout], packages)
            parts = ("cold", "json", "warm", "open", "lookup")
            names = ["sbom", "export", *(f"{p}_{layout}" for layout in layouts for p in parts)]
            figures: dict[str, list[float]] = {name: [] for name in names}
            for _ in range(max(3, args.reps)):
                figures["sbom"].append(timed(lambda: make_sbom(client, image.id))[0])
                figures["export"].append(timed(lambda: export_only(client, image.id))[0])
                for layout in layouts:
                    findings, advisories = measure_layout(dirs[layout], layout, packages, figures)
        finally:
            with contextlib.suppress(Exception):
                client.images.remove(image.id, force=True)
    medians = {k: statistics.median(v) for k, v in figures.items()}
    m = medians
    results.update(
        packages=len(packages),
        findings=findings,
        records=advisories.records,
        sbom_bytes=len(made.sbom.document),
        medians_s=medians,
        sbom_vs_export=m["sbom"] / m["export"],
        cold_vs_json={layout: m[f"cold_{layout}"] / m[f"json_{layout}"] for layout in layouts},
        cold_vs_warm={layout: m[f"cold_{layout}"] / m[f"warm_{layout}"] for layout in layouts},
        cold_vs_warm_cpu={
            layout: m[f"cold_{layout}_cpu"] / m[f"warm_{layout}_cpu"] for layout in layouts
        },
        warm_packages_per_s={layout: len(packages) / m[f"warm_{layout}"] for layout in layouts},
        load_average=os.getloadavg(),
    )
    r = results
    print(f"image: {len(packages)} packages, SBOM {r['sbom_bytes']} bytes, {findings} findings")
    print(f"SBOM            {m['sbom']:.3f} s (bare export {m['export']:.3f} s)")
    for layout in layouts:
        print(
            f"[{layout:5}] cold scan {m[f'cold_{layout}']:.3f} s (json.loads alone "
            f"{m[f'json_{layout}']:.3f} s); warm scan {m[f'warm_{layout}']:.3f} s "
            f"(opening the set {m[f'open_{layout}']:.3f} s, look-ups "
            f"{m[f'lookup_{layout}']:.3f} s)"
        )
        print(
            f"[{layout:5}] CPU time: cold scan {m[f'cold_{layout}_cpu']:.3f} s (json.loads "
            f"alone {m[f'json_{layout}_cpu']:.3f} s); warm scan {m[f'warm_{layout}_cpu']:.3f} s "
            f"(opening {m[f'open_{layout}_cpu']:.3f} s, look-ups {m[f'lookup_{layout}_cpu']:.3f} s)"
        )
    print(
        "ratios: SBOM/export x{:.2f}; cold/json {}; cold/warm {}".format(
            r["sbom_vs_export"],
            ", ".join(f"{k} x{v:.2f}" for k, v in r["cold_vs_json"].items()),
            ", ".join(f"{k} x{v:.1f}" for k, v in r["cold_vs_warm"].items()),
        )
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
