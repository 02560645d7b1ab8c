"""SBOMs and scans of real images built on the engine: inventory, CycloneDX, OSV matching."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from app.supplychain.advisoryindex import load_advisories
from app.supplychain.matching import match_packages
from app.supplychain.service import make_sbom
from tests.support.supplychain_samples import (
    EXPECTED_V1,
    advisories_v1,
    images,
    write_advisories,
)

__all__ = ["images"]


def components(document: bytes) -> dict[str, dict[str, Any]]:
    """The SBOM's components by purl."""
    return {c["purl"]: c for c in json.loads(document)["components"]}


def test_debian_sbom_lists_installed_dpkg_packages_with_source_distro_licence_and_needs(
    docker_client: Any, images: dict[str, str]
) -> None:
    made = make_sbom(docker_client, images["debian-tag"])
    found = components(made.sbom.document)
    assert sorted(found) == [
        "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12",
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
        "pkg:deb/debian/libfoo1@1:1.0-1?arch=amd64&distro=debian-12",
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12",
        "pkg:deb/debian/openssl@3.0.11-1~deb12u1?arch=amd64&distro=debian-12",
        "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12",
    ]  # oldpkg (config-files only) is not installed
    bash = found["pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12"]
    properties = {p["name"]: p["value"] for p in bash["properties"]}
    assert properties["shiplog:ecosystem"] == "Debian:12"
    assert properties["shiplog:source-name"] == "bash"
    assert properties["shiplog:source-version"] == "5.2.15-2"
    assert bash["licenses"] == [{"license": {"name": "GPL-3+"}}]
    libssl = found["pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12"]
    assert {p["name"]: p["value"] for p in libssl["properties"]}["shiplog:source-name"] == (
        "openssl"
    )
    needs = {
        d["ref"]: d.get("dependsOn", []) for d in json.loads(made.sbom.document)["dependencies"]
    }
    openssl_ref = "pkg:deb/debian/openssl@3.0.11-1~deb12u1?arch=amd64&distro=debian-12"
    assert needs[openssl_ref] == sorted(
        [
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12",
        ]
    )
    assert sorted(needs[images["debian"]]) == sorted(found)  # the image contains them all
    assert made.sbom.ecosystems == {"deb": 6}


def test_python_and_npm_packages_are_found_wherever_they_are_installed(
    docker_client: Any, images: dict[str, str]
) -> None:
    made = make_sbom(docker_client, images["python-tag"])
    found = components(made.sbom.document)
    assert sorted(found) == [
        "pkg:npm/%40babel/core@7.0.0-beta.1",
        "pkg:npm/lodash@4.17.20",
        "pkg:pypi/idna@3.4",
        "pkg:pypi/jinja2@3.1.2",
        "pkg:pypi/markupsafe@2.1.3",
        "pkg:pypi/requests@2.31.0",
        "pkg:pypi/urllib3@2.0.0rc1",
    ]
    assert found["pkg:pypi/urllib3@2.0.0rc1"]["licenses"] == [{"license": {"id": "MIT"}}]
    assert found["pkg:pypi/idna@3.4"]["licenses"] == [{"license": {"name": "BSD License"}}]
    lodash = found["pkg:npm/lodash@4.17.20"]
    assert lodash["hashes"][0]["alg"] == "SHA-512" and len(lodash["hashes"][0]["content"]) == 128
    needs = {
        d["ref"]: d.get("dependsOn", []) for d in json.loads(made.sbom.document)["dependencies"]
    }
    # socks is an extra, so PySocks is not needed; idna and urllib3 are installed
    assert needs["pkg:pypi/requests@2.31.0"] == ["pkg:pypi/idna@3.4", "pkg:pypi/urllib3@2.0.0rc1"]
    assert needs["pkg:npm/%40babel/core@7.0.0-beta.1"] == ["pkg:npm/lodash@4.17.20"]
    assert made.sbom.ecosystems == {"pypi": 5, "npm": 2}


def test_alpine_sbom_reads_the_apk_database_with_origin_checksums_and_so_dependencies(
    docker_client: Any, images: dict[str, str]
) -> None:
    made = make_sbom(docker_client, images["alpine-tag"])
    found = components(made.sbom.document)
    crypto = "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&distro=alpine-3.19.1"
    musl = "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1"
    assert set(found) == {
        crypto,
        musl,
        "pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1",
    }
    properties = {p["name"]: p["value"] for p in found[crypto]["properties"]}
    assert properties["shiplog:ecosystem"] == "Alpine:v3.19"  # os-release through a symlink
    assert properties["shiplog:source-name"] == "openssl"
    assert found[crypto]["hashes"][0]["alg"] == "SHA-1"
    assert found[crypto]["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    needs = {
        d["ref"]: d.get("dependsOn", []) for d in json.loads(made.sbom.document)["dependencies"]
    }
    assert needs[crypto] == [musl]  # so:libc.musl-x86_64.so.1 is provided by musl


def test_the_same_image_gives_a_byte_identical_sbom_that_validates_as_cyclonedx_1_6(
    docker_client: Any, images: dict[str, str]
) -> None:
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    for name in ("debian", "python", "alpine"):
        first = make_sbom(docker_client, images[name]).sbom
        second = make_sbom(docker_client, images[f"{name}-tag"]).sbom
        assert first.document == second.document
        assert first.digest == second.digest
        assert validator.validate_str(first.document.decode()) is None
        data = json.loads(first.document)
        assert data["specVersion"] == "1.6"
        assert data["metadata"]["component"]["bom-ref"] == images[name]
    assert docker_client.containers.list(all=True, filters={"ancestor": images["debian"]}) == []


def test_scan_findings_follow_each_ecosystems_version_order_and_osv_range_semantics(
    docker_client: Any, images: dict[str, str], tmp_path: Path
) -> None:
    advisories = load_advisories(write_advisories(tmp_path / "osv", advisories_v1()))
    matches = []
    for name in ("debian", "python", "alpine"):
        matches += match_packages(make_sbom(docker_client, images[name]).packages, advisories)
    assert {(m.advisory.id, m.package.name) for m in matches} == EXPECTED_V1
    by_key = {(m.advisory.id, m.package.name): m for m in matches}
    assert by_key[("DSA-0001-1", "libssl3")].fixed_version == "3.0.11-1~deb12u2"
    assert by_key[("DSA-0001-1", "libssl3")].severity == "critical"
    assert by_key[("DEBIAN-CVE-2024-0007", "bash")].fixed_version is None  # last_affected
    assert by_key[("GHSA-aaaa-0001", "urllib3")].severity == "medium"  # MODERATE
    assert by_key[("PYSEC-2024-0003", "requests")].advisory.aliases == ("CVE-2024-0035",)
    assert by_key[("GHSA-bbbb-0002", "lodash")].fixed_version == "4.17.21"
