"""Parsers of the package databases an image holds: dpkg, apk, Python metadata, package.json.

Each takes the bytes of one file and returns plain records; nothing here reads the
image or knows about SBOMs. Files an image ships are not user input, so these are
lenient: a paragraph without a name or version is left out rather than refused.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from email.parser import HeaderParser
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement


@dataclass(frozen=True)
class Record:
    """One package as its database describes it, before the inventory turns it into a Package."""

    name: str
    version: str
    architecture: str | None = None
    source_name: str | None = None
    source_version: str | None = None
    licenses: tuple[str, ...] = ()
    hashes: tuple[tuple[str, str], ...] = ()
    requires: tuple[str, ...] = ()
    """Names (or apk `so:`/`cmd:` names) of what it needs, alternatives flattened."""
    provides: tuple[str, ...] = ()


def paragraphs(text: str) -> list[dict[str, str]]:
    """RFC 822 style paragraphs (dpkg status): `Key: value`, continuation lines indented."""
    found: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                found.append(current)
            current, key = {}, None
        elif line[0] in " \t" and key is not None:
            current[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip()
            current[key] = value.strip()
    if current:
        found.append(current)
    return found


def _relation_names(value: str) -> tuple[str, ...]:
    """Package names in a dpkg relation field: `a (>= 1), b | c:any` gives a, b, c."""
    names: list[str] = []
    for alternative in re.split(r"[,|]", value):
        name = alternative.strip().split(" ", 1)[0].split("(", 1)[0].split(":", 1)[0]
        if name:
            names.append(name)
    return tuple(dict.fromkeys(names))


def parse_dpkg_status(text: str, *, require_status: bool = True) -> list[Record]:
    """Installed packages of a dpkg status file (or a distroless `status.d/` file)."""
    records: list[Record] = []
    for para in paragraphs(text):
        name, version = para.get("Package"), para.get("Version")
        if not name or not version:
            continue
        status = para.get("Status")
        if status is not None and not status.endswith(" installed"):
            continue
        if status is None and require_status:
            continue
        source_name, source_version = None, None
        if para.get("Source"):
            source_name, _, rest = para["Source"].partition(" ")
            source_version = rest.strip().strip("()").strip() or None
        requires = _relation_names(
            ", ".join(para[k] for k in ("Pre-Depends", "Depends") if para.get(k))
        )
        records.append(
            Record(
                name=name,
                version=version,
                architecture=para.get("Architecture"),
                source_name=source_name,
                source_version=source_version,
                requires=requires,
                provides=_relation_names(para.get("Provides", "")),
            )
        )
    return records


def parse_os_release(text: str) -> dict[str, str]:
    """The `KEY=value` pairs of an os-release file, quotes removed."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _apk_checksum(value: str) -> tuple[tuple[str, str], ...]:
    """apk's `C:` field: `Q1` + base64 SHA-1 of the package's control data, as a hex hash."""
    if not value.startswith("Q1"):
        return ()
    try:
        raw = base64.b64decode(value[2:], validate=True)
    except ValueError:
        return ()
    return (("SHA-1", raw.hex()),) if len(raw) == 20 else ()


def _apk_name(token: str) -> str:
    """The name in an apk dependency or provides token: `so:libc.so=1`, `pc:x>=2` -> its name."""
    return re.split(r"[<>=~]", token, maxsplit=1)[0]


def parse_apk_installed(text: str) -> list[Record]:
    """Packages of an apk database (`/lib/apk/db/installed`)."""
    records: list[Record] = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if len(line) > 2 and line[1] == ":" and line[0] not in fields:
                fields[line[0]] = line[2:]
        name, version = fields.get("P"), fields.get("V")
        if not name or not version:
            continue
        requires = [_apk_name(t) for t in fields.get("D", "").split() if not t.startswith("!")]
        provides = [_apk_name(t) for t in fields.get("p", "").split()]
        records.append(
            Record(
                name=name,
                version=version,
                architecture=fields.get("A"),
                source_name=fields.get("o"),
                licenses=(fields["L"],) if fields.get("L") else (),
                hashes=_apk_checksum(fields.get("C", "")),
                requires=tuple(dict.fromkeys(requires)),
                provides=tuple(dict.fromkeys(provides)),
            )
        )
    return records


_CLASSIFIER = "License :: "


def parse_python_metadata(text: str) -> Record | None:
    """A distribution's METADATA or PKG-INFO (core metadata): name, version, licence, needs."""
    message = HeaderParser().parsestr(text, headersonly=True)
    name, version = message.get("Name"), message.get("Version")
    if not name or not version:
        return None
    licenses: list[str] = []
    expression = message.get("License-Expression")
    if expression:
        licenses.append(expression.strip())
    else:
        for classifier in message.get_all("Classifier") or ():
            if classifier.startswith(_CLASSIFIER) and classifier.count("::") >= 2:
                licenses.append(classifier.rsplit("::", 1)[1].strip())
        text_license = (message.get("License") or "").strip()
        if not licenses and text_license and "\n" not in text_license and text_license != "UNKNOWN":
            licenses.append(text_license)
    requires: list[str] = []
    for line in message.get_all("Requires-Dist") or ():
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and "extra" in str(requirement.marker):
            continue
        requires.append(requirement.name)
    return Record(
        name=str(name).strip(),
        version=str(version).strip(),
        licenses=tuple(dict.fromkeys(licenses)),
        requires=tuple(dict.fromkeys(requires)),
    )


def _npm_licenses(data: dict[str, Any]) -> tuple[str, ...]:
    """`license` as a string or `{type}`, or the old `licenses` list."""
    value = data.get("license")
    found: list[str] = []
    if isinstance(value, str) and value:
        found.append(value)
    elif isinstance(value, dict) and isinstance(value.get("type"), str):
        found.append(value["type"])
    for item in data.get("licenses") or ():
        if isinstance(item, dict) and isinstance(item.get("type"), str):
            found.append(item["type"])
        elif isinstance(item, str):
            found.append(item)
    return tuple(dict.fromkeys(found))


_SRI = {"sha512": "SHA-512", "sha384": "SHA-384", "sha256": "SHA-256", "sha1": "SHA-1"}


def _npm_integrity(value: Any) -> tuple[tuple[str, str], ...]:
    """An SRI string (`sha512-<base64>`) as (algorithm, hex) pairs."""
    hashes: list[tuple[str, str]] = []
    for token in value.split() if isinstance(value, str) else ():
        alg, _, digest = token.partition("-")
        if alg in _SRI:
            try:
                hashes.append((_SRI[alg], base64.b64decode(digest, validate=True).hex()))
            except ValueError:
                continue
    return tuple(hashes)


def parse_package_json(text: str) -> Record | None:
    """An installed npm package's package.json: name, version, licence, integrity, needs."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    name, version = data.get("name"), data.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return None
    needs = data.get("dependencies")
    return Record(
        name=name,
        version=version,
        licenses=_npm_licenses(data),
        hashes=_npm_integrity(data.get("_integrity")),
        requires=tuple(sorted(needs)) if isinstance(needs, dict) else (),
    )


def parse_dep5_licenses(text: str) -> tuple[str, ...]:
    """The licence names of a machine-readable debian/copyright (DEP-5); () for other formats."""
    if not text.startswith("Format:"):
        return ()
    names: list[str] = []
    for para in paragraphs(text):
        value = para.get("License", "").split("\n", 1)[0].strip()
        if value and "Files" in para:
            names.append(value)
    return tuple(dict.fromkeys(names))
