"""Sample images and advisories for the supply-chain tests: real images, hand-made databases.

Each image is busybox (the `busybox_image` fixture) plus files copied in by a real
`docker build`: a dpkg status and os-release (Debian 12), Python distributions and
npm packages, or an apk database (Alpine 3.19). The advisories are OSV records
written for exactly these packages, with versions on both sides of each boundary
where naive string comparison would get the order wrong.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import docker.errors
import pytest

BUSYBOX = "shiplog/busybox:1"

DEBIAN_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'

DPKG_STATUS = """\
Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u1
Depends: libc6 (>= 2.34)

Package: openssl
Status: install ok installed
Architecture: amd64
Version: 3.0.11-1~deb12u1
Depends: libc6 (>= 2.34), libssl3 (>= 3.0.9)
Description: Secure Sockets Layer toolkit
 a continuation line that mentions Package: fake

Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u4

Package: bash
Status: install ok installed
Architecture: amd64
Source: bash (5.2.15-2)
Version: 5.2.15-2+b2
Pre-Depends: libc6 (>= 2.36), libtinfo6 | libncurses6

Package: libfoo1
Status: install ok installed
Architecture: amd64
Version: 1:1.0-1

Package: oldpkg
Status: deinstall ok config-files
Architecture: amd64
Version: 0.1-1
"""

DISTROLESS_TZDATA = """\
Package: tzdata
Architecture: all
Version: 2024a-0+deb12u1
"""

BASH_COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: bash

Files: *
Copyright: 1987-2022 Free Software Foundation, Inc.
License: GPL-3+

License: GPL-3+
 This program is free software.
"""


def debian_files() -> dict[str, str | bytes]:
    """A Debian 12 file system: os-release, dpkg status, a distroless status.d entry."""
    return {
        "etc/os-release": DEBIAN_OS_RELEASE,
        "var/lib/dpkg/status": DPKG_STATUS,
        "var/lib/dpkg/status.d/tzdata": DISTROLESS_TZDATA,
        "usr/share/doc/bash/copyright": BASH_COPYRIGHT,
    }


def _metadata(name: str, version: str, *extra: str) -> str:
    return (
        "\n".join(["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *extra]) + "\n"
    )


def python_files() -> dict[str, str | bytes]:
    """Python distributions (dist-info and egg-info) and npm packages, no distro database."""
    site = "usr/local/lib/python3.11/site-packages"
    return {
        f"{site}/requests-2.31.0.dist-info/METADATA": _metadata(
            "requests",
            "2.31.0",
            "License: Apache 2.0",
            "Requires-Dist: urllib3 (<3,>=1.21.1)",
            "Requires-Dist: idna (<4,>=2.5)",
            'Requires-Dist: PySocks (!=1.5.7,>=1.5.6) ; extra == "socks"',
        ),
        f"{site}/urllib3-2.0.0rc1.dist-info/METADATA": _metadata(
            "urllib3", "2.0.0rc1", "License-Expression: MIT"
        ),
        f"{site}/idna-3.4.dist-info/METADATA": _metadata(
            "idna", "3.4", "Classifier: License :: OSI Approved :: BSD License"
        ),
        f"{site}/MarkupSafe-2.1.3.dist-info/METADATA": _metadata("MarkupSafe", "2.1.3"),
        "usr/lib/python3/dist-packages/Jinja2-3.1.2.egg-info/PKG-INFO": _metadata(
            "Jinja2", "3.1.2", "License: BSD-3-Clause"
        ),
        "app/node_modules/lodash/package.json": json.dumps(
            {
                "name": "lodash",
                "version": "4.17.20",
                "license": "MIT",
                "_integrity": "sha512-"
                + base64.b64encode(hashlib.sha512(b"lodash").digest()).decode(),
            }
        ),
        "app/node_modules/@babel/core/package.json": json.dumps(
            {
                "name": "@babel/core",
                "version": "7.0.0-beta.1",
                "license": "MIT",
                "dependencies": {"lodash": "^4.17.0"},
            }
        ),
        "app/node_modules/lodash/fp/package.json": json.dumps({"name": "not-a-package"}),
    }


def _q1(data: bytes) -> str:
    return "Q1" + base64.b64encode(hashlib.sha1(data).digest()).decode()


APK_INSTALLED = f"""\
C:{_q1(b"musl")}
P:musl
V:1.2.4_git20230717-r4
A:x86_64
L:MIT
o:musl
p:so:libc.musl-x86_64.so.1=1

C:{_q1(b"libcrypto3")}
P:libcrypto3
V:3.1.4-r5
A:x86_64
L:Apache-2.0
o:openssl
D:so:libc.musl-x86_64.so.1

P:busybox
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox
D:so:libc.musl-x86_64.so.1 !busybox-extras
"""


def alpine_files() -> dict[str, str | bytes]:
    """An Alpine 3.19 file system: os-release (a symlink target) and the apk database."""
    return {
        "usr/lib/os-release": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n',
        "lib/apk/db/installed": APK_INSTALLED,
    }


# --- advisories -------------------------------------------------------------------------------

CRITICAL_VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def osv(ident: str, ecosystem: str, name: str, **affected: Any) -> dict[str, Any]:
    """An OSV record for one package; `affected` gives its ranges, versions and so on."""
    record: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": ident,
        "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": ecosystem, "name": name}, **affected}],
    }
    return record


def fixed(version: str, introduced: str = "0", kind: str = "ECOSYSTEM") -> list[dict[str, Any]]:
    """One range: affected from `introduced` until `version`."""
    return [{"type": kind, "events": [{"introduced": introduced}, {"fixed": version}]}]


def advisories_v1() -> list[dict[str, Any]]:
    """Advisories for the sample packages; the comments say which installed versions they hit."""
    records = [
        # tilde: 3.0.11-1~deb12u1 < 3.0.11-1~deb12u2, so libssl3 and openssl are affected
        {
            **osv("DSA-0001-1", "Debian:12", "openssl", ranges=fixed("3.0.11-1~deb12u2")),
            "aliases": ["CVE-2024-0001"],
            "severity": [{"type": "CVSS_V3", "score": CRITICAL_VECTOR}],
        },
        # fixed in exactly the installed version: not affected
        osv("DSA-0002-1", "Debian:12", "openssl", ranges=fixed("3.0.11-1~deb12u1")),
        # tilde sorts before the end: 3.0.11-1~deb12u1 < 3.0.11-1, affected
        osv("DEBIAN-CVE-2024-0003", "Debian:12", "openssl", ranges=fixed("3.0.11-1")),
        # another release of Debian: never matches a Debian 12 image
        osv("DSA-0004-1", "Debian:11", "openssl", ranges=fixed("9.9")),
        # epoch: 1:1.0-1 is above 2.0-1 (epoch 0): not affected ...
        osv("DEBIAN-CVE-2024-0005", "Debian:12", "libfoo1", ranges=fixed("2.0-1")),
        # ... and below 1:1.1-1: affected
        osv("DEBIAN-CVE-2024-0006", "Debian:12", "libfoo1", ranges=fixed("1:1.1-1")),
        # source version 5.2.15-2 is the last affected one (the binary is 5.2.15-2+b2)
        osv(
            "DEBIAN-CVE-2024-0007",
            "Debian:12",
            "bash",
            ranges=[
                {
                    "type": "ECOSYSTEM",
                    "events": [{"introduced": "0"}, {"last_affected": "5.2.15-2"}],
                }
            ],
        ),
        # a limit below the installed version: not affected
        osv(
            "DEBIAN-CVE-2024-0008",
            "Debian:12",
            "glibc",
            ranges=[{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"limit": "2.30"}]}],
        ),
        # an explicit version list (and a bare "Debian" ecosystem: any release)
        osv("DEBIAN-CVE-2024-0009", "Debian", "tzdata", versions=["2024a-0+deb12u1"]),
        # PEP 440: 2.0.0rc1 is before 2.0.0, so affected
        {
            **osv("GHSA-aaaa-0001", "PyPI", "urllib3", ranges=fixed("2.0.0")),
            "database_specific": {"severity": "MODERATE"},
        },
        # introduced at 2.0.0: the pre-release is before it, not affected
        osv("GHSA-aaaa-0002", "PyPI", "urllib3", ranges=fixed("2.0.7", introduced="2.0.0")),
        # names are compared PEP 503-normalized
        {
            **osv("PYSEC-2024-0003", "PyPI", "Requests", ranges=fixed("2.32.0")),
            "aliases": ["CVE-2024-0035"],
            "database_specific": {"severity": "HIGH"},
        },
        osv("PYSEC-2024-0004", "PyPI", "jinja2", versions=["3.1.2"]),
        osv("PYSEC-2024-0005", "PyPI", "markupsafe", ranges=fixed("2.1.3")),
        # SemVer: 4.17.20 > 4.17.3 (not affected), < 4.17.21 (affected)
        osv("GHSA-bbbb-0001", "npm", "lodash", ranges=fixed("4.17.3", kind="SEMVER")),
        {
            **osv("GHSA-bbbb-0002", "npm", "lodash", ranges=fixed("4.17.21", kind="SEMVER")),
            "database_specific": {"severity": "HIGH"},
        },
        osv(
            "GHSA-bbbb-0003",
            "npm",
            "@babel/core",
            ranges=fixed("7.0.0", introduced="7.0.0-alpha.1", kind="SEMVER"),
        ),
        # Alpine by origin: libcrypto3 3.1.4-r5 < 3.1.4-r6, affected
        {
            **osv("ALPINE-CVE-2024-0001", "Alpine:v3.19", "openssl", ranges=fixed("3.1.4-r6")),
            "severity": [{"type": "CVSS_V3", "score": CRITICAL_VECTOR}],
        },
        # r15 > r7: not affected
        osv("ALPINE-CVE-2024-0002", "Alpine:v3.19", "busybox", ranges=fixed("1.36.1-r7")),
        # another Alpine release: never matches
        osv("ALPINE-CVE-2024-0003", "Alpine:v3.18", "musl", ranges=fixed("9")),
        # a git range only: nothing to match
        {
            "id": "OSV-GIT-1",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "requests"},
                    "ranges": [{"type": "GIT", "repo": "x", "events": [{"introduced": "0"}]}],
                }
            ],
        },
    ]
    return records


DEBIAN_V1 = {
    ("DSA-0001-1", "libssl3"),
    ("DSA-0001-1", "openssl"),
    ("DEBIAN-CVE-2024-0003", "libssl3"),
    ("DEBIAN-CVE-2024-0003", "openssl"),
    ("DEBIAN-CVE-2024-0006", "libfoo1"),
    ("DEBIAN-CVE-2024-0007", "bash"),
    ("DEBIAN-CVE-2024-0009", "tzdata"),
}
"""(advisory, package) of every finding the v1 advisories must give for the Debian image."""

EXPECTED_V1 = DEBIAN_V1 | {
    ("GHSA-aaaa-0001", "urllib3"),
    ("PYSEC-2024-0003", "requests"),
    ("PYSEC-2024-0004", "Jinja2"),
    ("GHSA-bbbb-0002", "lodash"),
    ("GHSA-bbbb-0003", "@babel/core"),
    ("ALPINE-CVE-2024-0001", "libcrypto3"),
}
"""(advisory, package) of every finding the v1 advisories must give over the three images."""


def write_advisories(directory: Path, records: list[dict[str, Any]]) -> Path:
    """One JSON file per record, in per-ecosystem folders as the osv.dev exports are."""
    for record in records:
        ecosystem = record["affected"][0]["package"]["ecosystem"].split(":")[0]
        path = directory / ecosystem / f"{record['id']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1))
    return directory


# --- images -----------------------------------------------------------------------------------


def build_image(client: Any, root: Path, files: Mapping[str, str | bytes], tag: str) -> str:
    """`docker build` of busybox plus `files`; returns the new image's id."""
    context = root / "context"
    for name, content in files.items():
        path = context / "root" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    extra = ""
    if "usr/lib/os-release" in files and "etc/os-release" not in files:
        extra = "RUN mkdir -p /etc && ln -s ../usr/lib/os-release /etc/os-release\n"
    (context / "Dockerfile").write_text(f"FROM {BUSYBOX}\nCOPY root/ /\n{extra}")
    image, _ = client.images.build(path=str(context), tag=tag, rm=True, forcerm=True)
    return str(image.id)


@pytest.fixture
def images(docker_client: Any, busybox_image: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The three sample images, built for the test: name -> image id; removed after it."""
    suffix = uuid.uuid4().hex[:10]
    tags = {
        "debian": f"shiplog-test/sbom-debian-{suffix}:1",
        "python": f"shiplog-test/sbom-python-{suffix}:1",
        "alpine": f"shiplog-test/sbom-alpine-{suffix}:1",
    }
    contents = {"debian": debian_files(), "python": python_files(), "alpine": alpine_files()}
    built = {
        name: build_image(docker_client, tmp_path / name, contents[name], tags[name])
        for name in tags
    }
    yield {**built, **{f"{name}-tag": tag for name, tag in tags.items()}}
    for name in tags:
        with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
            docker_client.images.remove(built[name], force=True)
