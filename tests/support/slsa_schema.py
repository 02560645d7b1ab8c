"""A JSON Schema (draft 2020-12) of an in-toto Statement v1 carrying SLSA Provenance v1.

Written from the specifications' text: in-toto Statement v1 (spec/v1/statement.md),
ResourceDescriptor v1 (spec/v1/resource_descriptor.md), field types (TypeURI,
DigestSet, Timestamp) and SLSA Provenance v1 (slsa.dev/provenance/v1). Where a
field is REQUIRED (for SLSA Build L1) the schema requires it; everything the
specs leave open stays open (additional fields are allowed, as parsers must
ignore unknown fields), except that digests must be lowercase hex where the
algorithm is a hash and timestamps must be RFC 3339 in UTC.
"""

from __future__ import annotations

from typing import Any

HEX = "^[0-9a-f]+$"
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"
URI = r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$"

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["_type", "subject", "predicateType", "predicate"],
    "properties": {
        "_type": {"const": "https://in-toto.io/Statement/v1"},
        "subject": {
            "type": "array",
            "minItems": 1,
            # Each subject MUST have digest set.
            "items": {"allOf": [{"$ref": "#/$defs/resourceDescriptor"}, {"required": ["digest"]}]},
        },
        "predicateType": {"const": "https://slsa.dev/provenance/v1"},
        "predicate": {"$ref": "#/$defs/provenance"},
    },
    "$defs": {
        "typeUri": {"type": "string", "pattern": URI},
        "timestamp": {"type": "string", "pattern": TIMESTAMP},
        "digestSet": {
            "type": "object",
            "minProperties": 1,
            "properties": {
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "sha512": {"type": "string", "pattern": "^[0-9a-f]{128}$"},
                "gitCommit": {"type": "string", "pattern": "^[0-9a-f]{40}([0-9a-f]{24})?$"},
            },
            "additionalProperties": {"type": "string", "pattern": HEX},
        },
        "resourceDescriptor": {
            "type": "object",
            # At least one of uri, digest, content MUST be set.
            "anyOf": [{"required": ["uri"]}, {"required": ["digest"]}, {"required": ["content"]}],
            "properties": {
                "name": {"type": "string"},
                "uri": {"$ref": "#/$defs/typeUri"},
                "digest": {"$ref": "#/$defs/digestSet"},
                "content": {"type": "string"},
                "downloadLocation": {"$ref": "#/$defs/typeUri"},
                "mediaType": {"type": "string"},
                "annotations": {"type": "object"},
            },
        },
        "provenance": {
            "type": "object",
            "required": ["buildDefinition", "runDetails"],
            "properties": {
                "buildDefinition": {
                    "type": "object",
                    "required": ["buildType", "externalParameters"],
                    "properties": {
                        "buildType": {"$ref": "#/$defs/typeUri"},
                        "externalParameters": {"type": "object"},
                        "internalParameters": {"type": "object"},
                        "resolvedDependencies": {
                            "type": "array",
                            "items": {"$ref": "#/$defs/resourceDescriptor"},
                        },
                    },
                },
                "runDetails": {
                    "type": "object",
                    "required": ["builder"],
                    "properties": {
                        "builder": {
                            "type": "object",
                            "required": ["id"],
                            "properties": {
                                "id": {"$ref": "#/$defs/typeUri"},
                                "version": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                                "builderDependencies": {
                                    "type": "array",
                                    "items": {"$ref": "#/$defs/resourceDescriptor"},
                                },
                            },
                        },
                        "metadata": {
                            "type": "object",
                            "properties": {
                                "invocationId": {"type": "string"},
                                "startedOn": {"$ref": "#/$defs/timestamp"},
                                "finishedOn": {"$ref": "#/$defs/timestamp"},
                            },
                        },
                        "byproducts": {
                            "type": "array",
                            "items": {"$ref": "#/$defs/resourceDescriptor"},
                        },
                    },
                },
            },
        },
    },
}
