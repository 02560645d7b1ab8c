"""Reproductions: an image's verdicts, newest first, and which run built or pushed an image.

`latest_reproductions` is what the image page and `GET /api/images/{digest}/reproductions`
show. The digest may be the image id or a manifest digest it was pushed under (the
images projection ties one to the other), so either name of an image finds all its
reproductions, however they were asked for. Like every query it reads the projections
as they are (`shiplog serve` keeps them caught up); one that never caught up raises
ProjectionError, which the API answers with 503.

`first_build` and `first_push` tell a reproduction which run made an image named by
digest (the runs projection's run_images and run_pushes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from app.projections.reproductions import ReproductionsProjection
from app.projections.runs import RunsProjection
from app.queries.images import image_id_for
from events.lookups import StoredEvent
from events.projections import current_tables
from events.store import Cursor, EventStore
from events.vocabulary import ReproductionCompleted, ReproductionRequested

DEFAULT_LIMIT = 20
MAX_LIMIT = 200


@dataclass(frozen=True)
class ReproductionSummary:
    """One reproduction of an image: who asked when, and the verdict once there is one."""

    repro_id: str
    status: str
    image_digest: str | None
    image_id: str | None
    run_id: str | None
    step: str | None
    actor: str | None
    requested_at: datetime | None
    verdict: str | None
    reason: str | None
    rebuilt_image_id: str | None
    layers_identical: bool | None
    compared: list[str] = field(default_factory=list)
    files_compared: int | None = None
    differences: list[dict[str, Any]] = field(default_factory=list)
    differences_total: int | None = None
    config_differences: list[str] = field(default_factory=list)
    duration_ms: int | None = None
    completed_at: datetime | None = None


_COLUMNS = (
    "repro_id, status, image_digest, image_id, run_id, step, actor, requested_at, verdict, "
    "reason, rebuilt_image_id, layers_identical, compared, files_compared, differences, "
    "differences_total, config_differences, duration_ms, completed_at"
)


def latest_reproductions(
    store: EventStore, digest: str, limit: int = DEFAULT_LIMIT
) -> list[ReproductionSummary]:
    """The image's reproductions (by image id or asked digest), newest request first."""
    projection = ReproductionsProjection()
    limit = max(1, min(limit, MAX_LIMIT))
    with store.connection() as conn:
        image_id = image_id_for(conn, digest) or digest
        table = current_tables(conn, projection)["reproductions"]
        rows = (
            conn.cursor(row_factory=dict_row)
            .execute(
                f"SELECT {_COLUMNS} FROM {table} "
                "WHERE image_id = %(image)s OR image_digest = %(digest)s "
                "ORDER BY requested_at DESC NULLS LAST, last_position DESC LIMIT %(limit)s",
                {"image": image_id, "digest": digest, "limit": limit},
            )
            .fetchall()
        )
    return [_summary(row) for row in rows]


def _summary(row: dict[str, Any]) -> ReproductionSummary:
    """A projection row as a summary (NULL arrays and JSON as empty lists)."""
    lists = ("compared", "differences", "config_differences")
    return ReproductionSummary(**{**row, **{name: list(row[name] or []) for name in lists}})


_BLANK: dict[str, Any] = dict.fromkeys(
    ("image_digest", "image_id", "run_id", "step", "actor", "requested_at", "verdict", "reason",
     "rebuilt_image_id", "layers_identical"),
)  # fmt: skip
_COMPLETED_FIELDS = (
    "image_digest", "image_id", "verdict", "reason", "rebuilt_image_id", "layers_identical",
    "compared", "files_compared", "differences", "differences_total", "config_differences",
    "duration_ms",
)  # fmt: skip


def reproductions_until(
    store: EventStore, image_id: str, as_of: Cursor | None = None, limit: int = DEFAULT_LIMIT
) -> list[ReproductionSummary]:
    """The image's reproductions as the ledger held them at `as_of` (None: now), newest first.

    Read from the repro-* events themselves rather than the projection, whose rows
    keep only their latest state: a reproduction completed after `as_of` is shown as
    requested, and one requested after it not at all.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    types = [ReproductionRequested.type_name, ReproductionCompleted.type_name]
    events = store.with_data_field(types, "image_id", [image_id], until=as_of, limit=2 * limit)
    rows: dict[str, dict[str, Any]] = {}
    for event in sorted(events, key=lambda e: e.cursor):
        _fold_reproduction(rows.setdefault(event.stream, {}), event)
    found = [ReproductionSummary(**row) for row in rows.values()]
    found.sort(key=lambda r: (r.requested_at is not None, r.requested_at), reverse=True)
    return found[:limit]


def _fold_reproduction(row: dict[str, Any], event: StoredEvent) -> None:
    """Fold one repro-* event into its reproduction's row (either may come first)."""
    data = event.data
    if not row:
        row.update(_BLANK, repro_id=event.stream.removeprefix("repro-"), status="requested")
    if event.type == ReproductionRequested.type_name:
        row.update(image_digest=data["image_digest"], image_id=data["image_id"],
                   run_id=data["run_id"], step=data["step"],
                   actor=event.metadata.get("actor"), requested_at=event.recorded_at)  # fmt: skip
    else:
        row.update({name: data.get(name) for name in _COMPLETED_FIELDS})
        for name in ("compared", "differences", "config_differences"):
            row[name] = list(row[name] or [])
        row.update(status="completed", completed_at=event.recorded_at)


@dataclass(frozen=True)
class MadeBy:
    """The run (and build step, or push repository) that first made an image, and its id."""

    image_id: str
    run_id: str
    step: str | None = None
    repository: str | None = None


def first_build(store: EventStore, digest: str) -> MadeBy | None:
    """The first run that built the image `digest` names (an image id or a pushed digest)."""
    with store.connection() as conn:
        image_id = image_id_for(conn, digest) or digest  # a pushed digest names its image
        tables = current_tables(conn, RunsProjection())
        row = conn.execute(
            f"SELECT run_id, step FROM {tables['run_images']} WHERE image_id = %s "
            "ORDER BY position LIMIT 1",
            (image_id,),
        ).fetchone()
    return None if row is None else MadeBy(image_id, str(row[0]), step=str(row[1]))


def first_push(store: EventStore, digest: str) -> MadeBy | None:
    """The first run that pushed a manifest with this digest, and the repository it went to."""
    with store.connection() as conn:
        tables = current_tables(conn, RunsProjection())
        row = conn.execute(
            f"SELECT run_id, repository FROM {tables['run_pushes']} "
            "WHERE digest = %s ORDER BY position LIMIT 1",
            (digest,),
        ).fetchone()
    return None if row is None else MadeBy(digest, str(row[0]), repository=str(row[1]))
