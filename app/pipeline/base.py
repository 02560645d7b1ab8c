"""What every model of the pipeline file shares (frozen, no unknown keys), and document paths."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

Loc = tuple[str | int, ...]
"""A path into the document: mapping keys and list indexes, as in pydantic's `loc`."""


class FrozenModel(BaseModel):
    """A model of the pipeline file: frozen, and refusing unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")
