"""From an image's files to its installed packages: ecosystems, purls, licences and needs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace

from packageurl import PackageURL

from app.supplychain.files import ImageFiles
from app.supplychain.packages import APK, DEB, ECOSYSTEMS, NPM, PYPI, Package, pep503
from app.supplychain.parsers import (
    Record,
    parse_apk_installed,
    parse_dep5_licenses,
    parse_dpkg_status,
    parse_os_release,
    parse_package_json,
    parse_python_metadata,
)

_DIST_INFO = re.compile(
    r"/(?:site|dist)-packages/[^/]+\.(?:dist-info/METADATA|egg-info(?:/PKG-INFO)?)$"
)
_NODE_MODULES = re.compile(r"(?:^|/)node_modules/(?:@[^/]+/)?[^/]+/package\.json$")


def os_release(files: ImageFiles) -> dict[str, str]:
    """The image's os-release (`/etc/os-release`, else `/usr/lib/os-release`), or {}."""
    text = files.text("etc/os-release") or files.text("usr/lib/os-release")
    return parse_os_release(text) if text else {}


def distro_ecosystem(release: dict[str, str], kind: str) -> tuple[str, str | None]:
    """(OSV ecosystem, purl `distro` qualifier) of an image's distro packages.

    Debian 12 is `Debian:12` and `debian-12`; Alpine 3.19.1 is `Alpine:v3.19` and
    `alpine-3.19.1`. Without an os-release the release is unknown: `Debian`, `Alpine`.
    """
    ident = release.get("ID", "debian" if kind == DEB else "alpine").lower()
    version = release.get("VERSION_ID", "")
    name = {"debian": "Debian", "ubuntu": "Ubuntu", "alpine": "Alpine"}.get(ident, ident)
    if not version:
        return name, None
    if ident == "alpine":
        major_minor = ".".join(version.split(".")[:2])
        return f"{name}:v{major_minor}", f"{ident}-{version}"
    return f"{name}:{version}", f"{ident}-{version}"


def _qualifiers(**values: str | None) -> dict[str, str]:
    return {key: value for key, value in values.items() if value}


def _dpkg_packages(files: ImageFiles, release: dict[str, str]) -> list[Package]:
    ecosystem, distro = distro_ecosystem(release, DEB)
    namespace = release.get("ID", "debian").lower()
    records: list[tuple[str, Record]] = []
    status = files.text("var/lib/dpkg/status")
    if status:
        records += [("/var/lib/dpkg/status", r) for r in parse_dpkg_status(status)]
    for path in sorted(p for p in files.files if p.startswith("var/lib/dpkg/status.d/")):
        text = files.text(path) or ""
        records += [(f"/{path}", r) for r in parse_dpkg_status(text, require_status=False)]
    packages = []
    for location, record in records:
        copyright_text = files.text(f"usr/share/doc/{record.name}/copyright")
        purl = PackageURL(
            type=DEB,
            namespace=namespace,
            name=record.name,
            version=record.version,
            qualifiers=_qualifiers(arch=record.architecture, distro=distro),
        )
        packages.append(
            Package(
                kind=DEB,
                name=record.name,
                version=record.version,
                purl=purl.to_string(),
                osv_ecosystem=ecosystem,
                source_name=record.source_name or record.name,
                source_version=record.source_version or record.version,
                licenses=parse_dep5_licenses(copyright_text) if copyright_text else (),
                location=location,
            )
        )
    return _resolve(packages, [r for _, r in records], lambda name: name)


def _apk_packages(files: ImageFiles, release: dict[str, str]) -> list[Package]:
    text = files.text("lib/apk/db/installed")
    if not text:
        return []
    ecosystem, distro = distro_ecosystem(release, APK)
    records = parse_apk_installed(text)
    packages = [
        Package(
            kind=APK,
            name=r.name,
            version=r.version,
            purl=PackageURL(
                type=APK,
                namespace=release.get("ID", "alpine").lower(),
                name=r.name,
                version=r.version,
                qualifiers=_qualifiers(arch=r.architecture, distro=distro),
            ).to_string(),
            osv_ecosystem=ecosystem,
            source_name=r.source_name or r.name,
            licenses=r.licenses,
            hashes=r.hashes,
            location="/lib/apk/db/installed",
        )
        for r in records
    ]
    return _resolve(packages, records, lambda name: name)


def _python_packages(files: ImageFiles) -> list[Package]:
    packages: list[Package] = []
    records: list[Record] = []
    for path in sorted(p for p in files.files if _DIST_INFO.search(f"/{p}")):
        record = parse_python_metadata(files.text(path) or "")
        if record is None:
            continue
        records.append(record)
        packages.append(
            Package(
                kind=PYPI,
                name=record.name,
                version=record.version,
                purl=PackageURL(
                    type=PYPI, name=pep503(record.name), version=record.version
                ).to_string(),
                osv_ecosystem="PyPI",
                licenses=record.licenses,
                location=f"/{path}",
            )
        )
    return _resolve(packages, records, pep503)


def _npm_packages(files: ImageFiles) -> list[Package]:
    packages: list[Package] = []
    records: list[Record] = []
    for path in sorted(p for p in files.files if _NODE_MODULES.search(p)):
        record = parse_package_json(files.text(path) or "")
        if record is None:
            continue
        scope, _, bare = record.name.rpartition("/")
        records.append(record)
        packages.append(
            Package(
                kind=NPM,
                name=record.name,
                version=record.version,
                purl=PackageURL(
                    type=NPM, namespace=scope or None, name=bare, version=record.version
                ).to_string(),
                osv_ecosystem="npm",
                licenses=record.licenses,
                hashes=record.hashes,
                location=f"/{path}",
            )
        )
    return _resolve(packages, records, lambda name: name)


def _resolve(
    packages: list[Package], records: Iterable[Record], key: Callable[[str], str]
) -> list[Package]:
    """Fill each package's `depends` with the purls of installed packages it names.

    A name is matched against package names first, then against what packages provide
    (dpkg `Provides`, apk `p:` such as `so:libc.musl-x86_64.so.1`); the first package in
    the listing wins, so the result does not depend on anything but the files.
    """
    records = list(records)
    by_name: dict[str, str] = {}
    for package in packages:
        by_name.setdefault(key(package.name), package.purl)
    for package, record in zip(packages, records, strict=True):
        for provided in record.provides:
            by_name.setdefault(key(provided), package.purl)
    resolved = []
    for package, record in zip(packages, records, strict=True):
        needs = (by_name.get(key(name)) for name in record.requires)
        depends = sorted({purl for purl in needs if purl and purl != package.purl})
        resolved.append(replace(package, depends=tuple(depends)))
    return resolved


def inventory(files: ImageFiles) -> list[Package]:
    """Every package installed in the image, by ecosystem then purl, each purl once."""
    release = os_release(files)
    found = [
        *_dpkg_packages(files, release),
        *_apk_packages(files, release),
        *_python_packages(files),
        *_npm_packages(files),
    ]
    order = {kind: index for index, kind in enumerate(ECOSYSTEMS)}
    unique: dict[str, Package] = {}
    for package in sorted(found, key=lambda p: (order[p.kind], p.purl, p.location)):
        unique.setdefault(package.purl, package)
    return list(unique.values())
