"""The JSON Schema of `.shiplog.yml`, and the digest that identifies one version of a file."""

from __future__ import annotations

import hashlib
from typing import Any

from app.pipeline.model import Pipeline

SCHEMA_ID = "https://shiplog.dev/schemas/pipeline.json"
"""The `$id` of the exported schema."""

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema dialect the export is written in."""


def pipeline_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a pipeline file, with descriptions for editors."""
    schema = _strict_keys(Pipeline.model_json_schema(mode="validation"))
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        **schema,
        "description": (
            "A shiplog pipeline, written as .shiplog.yml at the repository root. "
            "Cross-step rules (unique names, known depends_on, no cycles, built images used "
            "after they are built, known secrets) are checked by shiplog, not by this schema."
        ),
    }


def _strict_keys(node: Any) -> Any:
    """Make maps with a key pattern refuse other keys, as the models do.

    pydantic writes `patternProperties`, which leaves non-matching keys unchecked; one pattern
    for all keys is `propertyNames` plus `additionalProperties`.
    """
    if isinstance(node, list):
        return [_strict_keys(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _strict_keys(value) for key, value in node.items()}
    patterns = node.get("patternProperties")
    if isinstance(patterns, dict) and len(patterns) == 1 and "properties" not in node:
        ((pattern, values),) = patterns.items()
        del node["patternProperties"]
        names = dict(node.get("propertyNames", {}))
        names["pattern"] = pattern
        node["propertyNames"] = names
        node["additionalProperties"] = values
    return node


def pipeline_digest(text: bytes) -> str:
    """`sha256:<hex>` of a pipeline file's exact bytes."""
    return "sha256:" + hashlib.sha256(text).hexdigest()
