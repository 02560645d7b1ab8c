"""Each ecosystem's version order, checked against the tool's own published test vectors."""

from __future__ import annotations

import random
from itertools import pairwise
from pathlib import Path

import pytest
import semver
from debian.debian_support import NativeVersion

from app.supplychain.apkversion import SUFFIXES, apk_key
from app.supplychain.versions import debian_key, parser_for, pypi_key, semver_key

VECTORS = Path(__file__).parent / "vectors"


def sign(left: object, right: object) -> int:
    """-1, 0 or 1 as `left` sorts below, with or above `right`."""
    return (left > right) - (left < right)  # type: ignore[operator]


def apk_vectors() -> list[tuple[str, str, str]]:
    """(A, op, B) of every line of apk-tools' test/version.data."""
    lines = (line.split("#", 1)[0].strip() for line in (VECTORS / "apk-version.data").open())
    return [tuple(line.split()) for line in lines if line]  # type: ignore[misc]


def test_every_apk_tools_version_vector_holds() -> None:
    vectors = apk_vectors()
    assert len(vectors) > 600
    wrong = []
    for left, op, right in vectors:
        expected = {"<": -1, "=": 0, ">": 1}[op]
        if sign(apk_key(left, strict=False), apk_key(right, strict=False)) != expected:
            wrong.append(f"{left} {op} {right}")
    assert wrong == []


def test_apk_vectors_call_invalid_only_what_apk_tools_calls_invalid() -> None:
    invalid = set()
    for left, _, right in apk_vectors():
        for version in (left, right):
            try:
                apk_key(version)
            except ValueError:
                invalid.add(version)
    assert invalid == {"23_foo", "1.0bc"}


@pytest.mark.parametrize("suffix", sorted(SUFFIXES))
def test_every_apk_suffix_is_read_and_ordered_around_the_release(suffix: str) -> None:
    pre = suffix in ("alpha", "beta", "pre", "rc")
    version = apk_key(f"1.2.4_{suffix}20230717-r5")
    assert (version < apk_key("1.2.4-r0")) is pre
    assert (version > apk_key("1.2.4-r9")) is not pre
    assert apk_key(f"1.2.4_{suffix}1") < apk_key(f"1.2.4_{suffix}2") < apk_key("1.2.5")


def test_the_real_alpine_git_snapshot_version_is_ordered() -> None:
    fixed = apk_key("1.2.4_git20230717-r5")
    assert apk_key("1.2.4_git20230717-r4") < fixed < apk_key("1.2.4_git20230718-r0")
    assert apk_key("1.2.4-r9") < fixed < apk_key("1.2.5_alpha1")
    assert apk_key("1.2.4_git20230717~0abc12-r5") > fixed  # a commit hash comes after


@pytest.mark.parametrize(
    "text", ["", "a1", "1.", "1..2", "1_foo", "1-r", "1-2", "1.0A", "1~", "1~xyz", "1.2a3", "1 2"]
)
def test_versions_apk_tools_refuses_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not an Alpine package version"):
        apk_key(text)


def dpkg_vectors() -> list[tuple[str, str, int]]:
    """(A, B, result) from dpkg's scripts/t/100_Dpkg_Version.t."""
    rows = [line.split() for line in (VECTORS / "dpkg-version.data").open() if line.strip()]
    return [(a, b, int(result)) for a, b, result in rows]


@pytest.mark.parametrize(("left", "right", "expected"), dpkg_vectors())
def test_every_dpkg_version_vector_holds(left: str, right: str, expected: int) -> None:
    assert sign(debian_key(left, strict=False), debian_key(right, strict=False)) == expected
    assert sign(debian_key(right, strict=False), debian_key(left, strict=False)) == -expected


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("0", "0:0-0"),
        ("0:0-", "0"),
        ("0:0.0-0.0", "0.0-0.0"),
        ("1:0", "1:0-0"),
        ("0:0-0-0", "0-0-0"),  # the revision is after the last hyphen
        ("0:0:0-0", "0:0:0-0"),  # colons after the epoch belong to the upstream version
        ("  0:0-1 ", "0-1"),
        ("0:09azAZ.-+~:-0", "0:09azAZ.-+~:-00"),
        ("0:0-azAZ09.+~", "0-azAZ09.+~"),
    ],
)
def test_dpkg_parse_vectors_read_the_same_version(text: str, same_as: str) -> None:
    assert debian_key(text) == debian_key(same_as)


@pytest.mark.parametrize(
    "text", ["", "  ", "0:", "0:0 0-1", "-1:0-1", "a:0-0", "A:0-0", "-0", "0:-0", "0:abc3-0"]
)
def test_versions_dpkg_refuses_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a Debian version"):
        debian_key(text)


def test_debian_order_agrees_with_python_debian_on_random_versions() -> None:
    rng = random.Random(15)

    def version() -> str:
        text = str(rng.randrange(10)) + "".join(rng.choice("0123456789.+~ab") for _ in range(5))
        if rng.random() < 0.5:
            text += "-" + "".join(rng.choice("019.~+a") for _ in range(rng.randrange(1, 4)))
        return f"{rng.randrange(3)}:{text}" if rng.random() < 0.2 else text

    for _ in range(20_000):
        left, right = version(), version()
        expected = NativeVersion(left)._compare(NativeVersion(right))
        assert sign(debian_key(left), debian_key(right)) == sign(expected, 0), (left, right)


def test_debian_binary_nmus_epochs_and_tildes_sort_as_dpkg_does() -> None:
    order = ["1.0~rc1-1", "1.0-1~deb12u1", "1.0-1", "1.0-1+b1", "1.0-1+deb12u1", "1.1-1", "1:0.9"]
    keys = [debian_key(v) for v in order]
    assert keys == sorted(keys)


def test_pep440_summary_ordering_holds() -> None:
    # PEP 440, "Summary of permitted suffixes and relative ordering", in order.
    order = [
        "1.dev0",
        "1.0.dev456",
        "1.0a1",
        "1.0a2.dev456",
        "1.0a12.dev456",
        "1.0a12",
        "1.0b1.dev456",
        "1.0b2",
        "1.0b2.post345.dev456",
        "1.0b2.post345",
        "1.0rc1.dev456",
        "1.0rc1",
        "1.0",
        "1.0+abc.5",
        "1.0+abc.7",
        "1.0+5",
        "1.0.post456.dev34",
        "1.0.post456",
        "1.0.15",
        "1.1.dev1",
    ]
    keys = [pypi_key(v) for v in order]
    assert all(a < b for a, b in pairwise(keys))
    assert pypi_key("1!0.1") > pypi_key("2024.1")  # an epoch outranks the release


def test_semver_precedence_examples_of_semver_org_hold() -> None:
    order = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
    ]
    keys = [semver_key(v) for v in order]
    assert all(a < b for a, b in pairwise(keys))
    assert semver_key("1.0.0-alpha+001") == semver_key("1.0.0-alpha")  # build metadata
    assert semver_key("1.0.0+20130313144700") == semver_key("v1.0.0+exp.sha.5114f85")


def test_semver_order_agrees_with_the_semver_library_on_random_versions() -> None:
    rng = random.Random(2)
    parts = ["alpha", "beta", "rc", "0", "1", "2", "11", "a1", "x-y"]

    def version() -> str:
        text = ".".join(str(rng.randrange(3)) for _ in range(3))
        if rng.random() < 0.6:
            text += "-" + ".".join(rng.choice(parts) for _ in range(rng.randrange(1, 4)))
        return text + ("+build.5" if rng.random() < 0.2 else "")

    for _ in range(10_000):
        left, right = version(), version()
        expected = semver.Version.parse(left).compare(right)
        assert sign(semver_key(left), semver_key(right)) == expected, (left, right)


@pytest.mark.parametrize(
    ("ecosystem", "text"),
    [("PyPI", "not a version!"), ("npm", "1.x"), ("Debian:12", "abc"), ("Alpine:v3.19", "1_x")],
)
def test_each_ecosystem_refuses_what_its_tool_refuses(ecosystem: str, text: str) -> None:
    parse = parser_for(ecosystem)
    assert parse is not None
    with pytest.raises(ValueError, match="is not a"):
        parse(text)
