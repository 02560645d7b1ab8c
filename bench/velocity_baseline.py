"""The velocity report as main computed it before the dora projection, for baselines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest.mock import patch

from events.projections import ProjectionError


@contextmanager
def former_dora_inputs() -> Iterator[None]:
    """Within it the report folds every deployment event in Python, as main does.

    The live report reads the dora projection unless that projection has not caught
    up; this makes the read answer so, and the report takes the former way.
    """

    def not_folded(*_: object) -> None:
        raise ProjectionError("a benchmark's baseline folds the histories")

    with patch("app.queries.velocity.folded_deployments", not_folded):
        yield
