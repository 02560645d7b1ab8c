"""CycloneDX 1.6 JSON SBOMs of images, made with cyclonedx-python-lib, and read back.

The same image always gives the same bytes: the serial number is a UUID derived
from the image id, the timestamp is the image's creation time, bom-refs are the
purls, and the library sorts components, dependencies and properties.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.license import DisjunctiveLicense, License, LicenseExpression
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from app.supplychain.files import ImageMetadata
from app.supplychain.packages import ECOSYSTEMS, Package

SERIAL_NAMESPACE = uuid.UUID("6f1c7e0a-2b7e-5d1e-9a57-5b1f0c3a9e11")
"""Namespace of the UUIDv5 serial numbers: `urn:uuid:` of uuid5(namespace, image id)."""

PROPERTY = "shiplog:"
_ALGORITHMS = {alg.value: alg for alg in HashAlgorithm}
_LICENSES = LicenseFactory()


class InvalidSbom(ValueError):
    """A document is not a CycloneDX SBOM that shiplog can read packages from."""


@dataclass(frozen=True)
class Sbom:
    """An SBOM's exact bytes, their digest and what it counts."""

    document: bytes
    digest: str
    image_id: str
    components: int
    ecosystems: dict[str, int]


def sbom_digest(document: bytes) -> str:
    """`sha256:<hex>` of an SBOM's exact bytes: the key it is stored under."""
    return "sha256:" + hashlib.sha256(document).hexdigest()


def _timestamp(created: str) -> datetime:
    """The image's creation time (RFC 3339, maybe with nanoseconds) in whole UTC seconds."""
    text = created.strip()
    if not text:
        return datetime(1970, 1, 1, tzinfo=UTC)
    head = text.replace("Z", "+00:00")
    if "." in head:
        seconds, _, rest = head.partition(".")
        offset = rest.lstrip("0123456789")
        head = seconds + offset
    moment = datetime.fromisoformat(head)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _licenses(names: Sequence[str]) -> list[License]:
    """One expression or SPDX id as such; several licences as names or ids, never mixed."""
    if len(names) == 1:
        return [_LICENSES.make_from_string(names[0])]
    made: list[License] = []
    for name in names:
        one = _LICENSES.make_from_string(name)
        made.append(DisjunctiveLicense(name=name) if isinstance(one, LicenseExpression) else one)
    return made


def _component(package: Package) -> Component:
    properties = [
        Property(name=f"{PROPERTY}ecosystem", value=package.osv_ecosystem),
        Property(name=f"{PROPERTY}location", value=package.location),
    ]
    if package.source_name:
        properties.append(Property(name=f"{PROPERTY}source-name", value=package.source_name))
    if package.source_version:
        properties.append(Property(name=f"{PROPERTY}source-version", value=package.source_version))
    return Component(
        type=ComponentType.LIBRARY,
        name=package.name,
        version=package.version,
        purl=PackageURL.from_string(package.purl),
        bom_ref=package.purl,
        licenses=_licenses(package.licenses),
        hashes=[
            HashType(alg=_ALGORITHMS[alg], content=content)
            for alg, content in package.hashes
            if alg in _ALGORITHMS
        ],
        properties=properties,
    )


def _image_properties(facts: ImageMetadata) -> list[Property]:
    """The image's id, platform and labels (all part of its config, so stable)."""
    properties = [Property(name=f"{PROPERTY}image-id", value=facts.image_id)]
    if facts.os and facts.architecture:
        properties.append(
            Property(name=f"{PROPERTY}platform", value=f"{facts.os}/{facts.architecture}")
        )
    properties += [
        Property(name=f"label:{key}", value=value) for key, value in facts.labels.items()
    ]
    return properties


def build_sbom(facts: ImageMetadata, packages: Sequence[Package]) -> Sbom:
    """The SBOM of an image: the image as metadata component, every package, their needs."""
    image = Component(
        type=ComponentType.CONTAINER,
        name=facts.labels.get("org.opencontainers.image.title") or facts.image_id,
        version=facts.labels.get("org.opencontainers.image.version"),
        bom_ref=facts.image_id,
        hashes=[
            HashType(alg=HashAlgorithm.SHA_256, content=facts.image_id.removeprefix("sha256:"))
        ],
        properties=_image_properties(facts),
    )
    bom = Bom(
        serial_number=uuid.uuid5(SERIAL_NAMESPACE, facts.image_id),
        metadata=BomMetaData(timestamp=_timestamp(facts.created), component=image),
    )
    components = {package.purl: _component(package) for package in packages}
    for component in components.values():
        bom.components.add(component)
    # Built directly rather than with Bom.register_dependency, which searches the
    # dependencies registered so far for each call: quadratic in the number of packages.
    refs = {purl: component.bom_ref for purl, component in components.items()}
    graph = [Dependency(ref=image.bom_ref, dependencies=[Dependency(ref=r) for r in refs.values()])]
    for package in packages:
        needs = [Dependency(ref=refs[purl]) for purl in package.depends if purl in refs]
        graph.append(Dependency(ref=refs[package.purl], dependencies=needs))
    bom.dependencies = graph
    text = JsonV1Dot6(bom).output_as_string(indent=None)
    document = text.encode("utf-8")
    counts = Counter(package.kind for package in packages)
    return Sbom(
        document=document,
        digest=sbom_digest(document),
        image_id=facts.image_id,
        components=len(components),
        ecosystems={kind: counts[kind] for kind in ECOSYSTEMS if counts[kind]},
    )


def validate_sbom(document: bytes) -> None:
    """Raise InvalidSbom unless the document validates against the CycloneDX 1.6 JSON schema."""
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document.decode("utf-8"))
    if error is not None:
        raise InvalidSbom(f"not a valid CycloneDX 1.6 document: {error}")


def _license_names(component: dict[str, Any]) -> tuple[str, ...]:
    """A component's licences as written: SPDX ids, names or one expression."""
    names: list[str] = []
    for choice in component.get("licenses") or ():
        if not isinstance(choice, dict):
            continue
        if isinstance(choice.get("expression"), str):
            names.append(choice["expression"])
        elif isinstance(choice.get("license"), dict):
            one = choice["license"]
            name = one.get("id") or one.get("name")
            if isinstance(name, str):
                names.append(name)
    return tuple(names)


def _properties(component: dict[str, Any]) -> dict[str, str]:
    return {
        str(p.get("name")): str(p.get("value"))
        for p in component.get("properties") or ()
        if isinstance(p, dict)
    }


def read_packages(document: bytes) -> tuple[str, list[Package]]:
    """(image id, packages) of an SBOM this module made: what a re-scan matches."""
    try:
        data = json.loads(document)
        image_id = _properties(data["metadata"]["component"])[f"{PROPERTY}image-id"]
        components = data.get("components") or []
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidSbom(f"not an SBOM made by shiplog: {error}") from None
    needs = {
        str(d.get("ref")): tuple(d.get("dependsOn") or ())
        for d in data.get("dependencies") or ()
        if isinstance(d, dict)
    }
    packages: list[Package] = []
    for component in components:
        properties = _properties(component)
        purl = component.get("purl")
        ecosystem = properties.get(f"{PROPERTY}ecosystem")
        if not purl or not ecosystem:
            continue
        parsed = PackageURL.from_string(purl)
        packages.append(
            Package(
                kind=parsed.type,
                name=str(component.get("name")),
                version=str(component.get("version")),
                purl=purl,
                osv_ecosystem=ecosystem,
                source_name=properties.get(f"{PROPERTY}source-name"),
                source_version=properties.get(f"{PROPERTY}source-version"),
                licenses=_license_names(component),
                depends=needs.get(str(component.get("bom-ref")), ()),
                location=properties.get(f"{PROPERTY}location", ""),
            )
        )
    return image_id, packages
