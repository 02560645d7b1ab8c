"""One installed package as the inventory finds it, and the ecosystems shiplog knows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEB = "deb"
APK = "apk"
PYPI = "pypi"
NPM = "npm"
ECOSYSTEMS: tuple[str, ...] = (DEB, APK, PYPI, NPM)
"""Package kinds by their purl type, in the order an SBOM lists them."""


@dataclass(frozen=True)
class Package:
    """An installed package: what it is (purl), where it came from, and what it needs."""

    kind: str
    name: str
    version: str
    purl: str
    osv_ecosystem: str
    """The OSV ecosystem of its advisories: `Debian:12`, `Alpine:v3.19`, `PyPI`, `npm`."""
    source_name: str | None = None
    """Debian's source package, Alpine's origin: the name advisories use for distro packages."""
    source_version: str | None = None
    licenses: tuple[str, ...] = ()
    hashes: tuple[tuple[str, str], ...] = ()
    """(CycloneDX algorithm name, lower-case hex) pairs the image declares for the package."""
    depends: tuple[str, ...] = field(default=())
    """Purls of the installed packages this one needs (resolved by the inventory)."""
    location: str = ""

    @property
    def advisory_name(self) -> str:
        """The name this package is known by in its ecosystem's advisories."""
        if self.kind in (DEB, APK):
            return self.source_name or self.name
        if self.kind == PYPI:
            return pep503(self.name)
        return self.name

    @property
    def advisory_version(self) -> str:
        """The version matched against advisories (the source package's for distro packages)."""
        if self.kind in (DEB, APK):
            return self.source_version or self.version
        return self.version


def pep503(name: str) -> str:
    """A Python distribution name normalized as PEP 503 says (`Foo_Bar` is `foo-bar`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def osv_base(ecosystem: str) -> str:
    """The ecosystem without its release: `Debian:12` is `Debian`."""
    return ecosystem.split(":", 1)[0]
