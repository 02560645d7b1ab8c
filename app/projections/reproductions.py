"""The reproductions projection: each reproduction of an image, its verdict and its diff.

Folded from the repro-* streams (migrations/0020_reproductions_projection.sql).
Either event may arrive first (see app/projections/runs.py on subscription order):
a row is `completed` once its ReproductionCompleted is folded, whatever came after.
"""

from __future__ import annotations

from collections.abc import Iterator

from psycopg.types.json import Jsonb

from app.projections.sql import upsert_sql
from events.projections import Write, table_name
from events.store import RecordedEvent
from events.vocabulary import ReproductionCompleted, ReproductionRequested

VERSION = 1
RELATIONS = ("reproductions",)
LAST = "greatest(r.last_position, EXCLUDED.last_position)"


class ReproductionsProjection:
    """Reproductions by image: who asked, from which run, the verdict, what differed."""

    name = "reproductions"
    relations = RELATIONS
    # Both writes are upserts that accept their events in either order (see above).
    writes_commute = True

    def __init__(self, version: int = VERSION) -> None:
        self.version = version
        table = table_name("reproductions", version)
        self._requested = upsert_sql(
            table, "r", ("repro_id",),
            ("status", "last_position", "image_digest", "image_id", "run_id", "step", "actor",
             "requested_at"),
            {"status": "r.status", "last_position": LAST},
        )  # fmt: skip
        self._completed = upsert_sql(
            table, "r", ("repro_id",),
            ("status", "last_position", "image_digest", "image_id", "verdict", "reason",
             "rebuilt_image_id", "layers_identical", "compared", "files_compared",
             "differences", "differences_total", "config_differences", "duration_ms",
             "completed_at"),
            {"last_position": LAST},
        )  # fmt: skip

    def handle(self, event: RecordedEvent) -> Iterator[Write]:
        """The writes that fold one event in; events of other streams write nothing."""
        if not event.stream.startswith("repro-"):
            return
        repro_id = event.stream.removeprefix("repro-")
        data, at, pos = event.data, event.recorded_at, event.position
        if isinstance(data, ReproductionRequested):
            yield self._requested, (
                repro_id, "requested", pos, data.image_digest, data.image_id, data.run_id,
                data.step, event.metadata.actor, at,
            )  # fmt: skip
        elif isinstance(data, ReproductionCompleted):
            differences = [d.model_dump(mode="json") for d in data.differences]
            yield self._completed, (
                repro_id, "completed", pos, data.image_digest, data.image_id, data.verdict,
                data.reason, data.rebuilt_image_id, data.layers_identical, list(data.compared),
                data.files_compared, Jsonb(differences), data.differences_total,
                list(data.config_differences),
                data.duration_ms, at,
            )  # fmt: skip
