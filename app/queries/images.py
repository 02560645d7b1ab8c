"""Questions about built images, answered from the images projection, optionally as of a cursor.

An image is named by its id (the config digest, `sha256:<hex>`, as the engine and
ImageBuilt give it) or by a manifest digest a push returned; both find it. The
same image id can come out of more than one run (a reproducible build gives the
same bytes again): `find_image` answers with the first build, and
`ImageFacts.other_runs` lists the rest.

Every row of the projection carries the cursor of the event that wrote it, so an
`as_of` cursor is a filter on those columns (app/queries/as_of.py). Table names
are resolved once per call through events.projections.current_tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from app.projections.images import ImagesProjection
from app.queries.as_of import row_bound
from app.queries.deployments import DeployedImage, deployed_images, environments
from app.queries.deployments import running as running_in
from events.projections import current_tables
from events.store import Cursor, EventStore


@dataclass(frozen=True)
class BaseImageRow:
    """A base image of a build: the name as written and the digest it resolved to."""

    name: str
    digest: str


@dataclass(frozen=True)
class PushRow:
    """Where an image was pushed: repository, tag, manifest digest and when."""

    repository: str
    tag: str
    digest: str
    pushed_at: datetime
    run_id: str


@dataclass(frozen=True)
class TestsRow:
    """A step's test reports in the run that built the image."""

    __test__ = False  # not a pytest test class, despite its name
    step: str
    passed: int
    failed: int
    skipped: int
    failing: list[str]
    report_sha256: str


@dataclass(frozen=True)
class ImageSummary:
    """One build of an image: enough to list it and link to it."""

    image_id: str
    run_id: str
    step: str
    repository: str
    commit: str
    built_at: datetime
    tags: list[str]
    cursor: str  # where its build is in the ledger: the `after` of the next page


@dataclass(frozen=True)
class ImageFacts:
    """Everything recorded about how an image was made and where it went."""

    image_id: str
    run_id: str
    step: str
    repository: str
    commit: str
    ref: str
    pipeline_path: str
    trigger: str
    commit_time: datetime | None
    actor: str | None
    built_at: datetime
    tags: list[str]
    dockerfile_sha256: str
    context_digest: str
    target: str | None
    build_args: dict[str, str]
    secret_args: list[str]
    base_images: list[BaseImageRow]
    labels: dict[str, str]
    pushes: list[PushRow]
    tests: list[TestsRow]
    other_runs: list[str]


def image_id_for(
    conn: psycopg.Connection[Any], digest: str, as_of: Cursor | None = None
) -> str | None:
    """The image id `digest` names (itself, or the image a push returned it for), if known."""
    t = current_tables(conn, ImagesProjection())
    row = conn.execute(
        f"SELECT image_id FROM {t['images']} WHERE image_id = %(d)s "
        "AND (tx_id, position) <= (%(tx)s, %(pos)s) "
        f"UNION ALL SELECT image_id FROM {t['image_pushes']} WHERE digest = %(d)s "
        "AND image_id IS NOT NULL AND (tx_id, position) <= (%(tx)s, %(pos)s) LIMIT 1",
        {"d": digest, "tx": row_bound(as_of)[0], "pos": row_bound(as_of)[1]},
    ).fetchone()
    return None if row is None else str(row[0])


def find_image(store: EventStore, digest: str, as_of: Cursor | None = None) -> ImageFacts | None:
    """The facts of the image `digest` names, from its first build; None if unknown (then)."""
    with store.connection() as conn:
        return _find_image(conn, digest, as_of)


@dataclass(frozen=True)
class ImageRecord:
    """What the ledger says of an image as of a cursor: its id, its build, where it ran."""

    image_id: str  # the id the digest names, or the digest itself when no build says
    facts: ImageFacts | None  # None: never built here (only deployed, scanned or named)
    deployed: list[DeployedImage]


def image_and_deployments(
    store: EventStore, digest: str, as_of: Cursor | None = None
) -> ImageRecord:
    """The image's facts and where it ran (by id or pushed digest), as of `as_of` (None: now)."""
    with store.connection() as conn:
        facts = _find_image(conn, digest, as_of)
        image_id = image_id_for(conn, digest, as_of) or digest
        digests = {digest, image_id} | ({p.digest for p in facts.pushes} if facts else set())
        return ImageRecord(image_id, facts, deployed_images(conn, digests, as_of))


def _find_image(
    conn: psycopg.Connection[Any], digest: str, as_of: Cursor | None
) -> ImageFacts | None:
    image_id = image_id_for(conn, digest, as_of)
    if image_id is None:
        return None
    t = current_tables(conn, ImagesProjection())
    tx, pos = row_bound(as_of)
    bound = {"tx": tx, "pos": pos, "image": image_id}
    builds = conn.execute(
        "SELECT i.position, i.run_id, i.step, r.repository, r.commit, r.ref, r.pipeline_path, "
        "r.trigger, r.commit_time, r.actor, i.built_at, i.tags, i.dockerfile_sha256, "
        "i.context_digest, i.target, i.build_args, i.secret_args "
        f"FROM {t['images']} i JOIN {t['image_runs']} r USING (run_id) "
        "WHERE i.image_id = %(image)s AND (i.tx_id, i.position) <= (%(tx)s, %(pos)s) "
        "ORDER BY i.tx_id, i.position",
        bound,
    ).fetchall()
    if not builds:
        return None
    first = builds[0]
    position, run_id = first[0], first[1]
    bases = conn.execute(
        f"SELECT name, digest FROM {t['image_bases']} WHERE position = %s ORDER BY ordinal",
        (position,),
    ).fetchall()
    labels = conn.execute(
        f"SELECT key, value FROM {t['image_labels']} WHERE position = %s ORDER BY key",
        (position,),
    ).fetchall()
    pushes = conn.execute(
        f"SELECT repository, tag, digest, pushed_at, run_id FROM {t['image_pushes']} "
        "WHERE image_id = %(image)s AND (tx_id, position) <= (%(tx)s, %(pos)s) "
        "ORDER BY tx_id, position",
        bound,
    ).fetchall()
    tests = conn.execute(
        f"SELECT step, passed, failed, skipped, failing, report_sha256 FROM {t['run_tests']} "
        "WHERE run_id = %(run)s AND (tx_id, position) <= (%(tx)s, %(pos)s) "
        "ORDER BY tx_id, position",
        bound | {"run": run_id},
    ).fetchall()
    return ImageFacts(
        image_id=image_id,
        run_id=run_id,
        step=first[2],
        repository=first[3],
        commit=first[4],
        ref=first[5],
        pipeline_path=first[6],
        trigger=first[7],
        commit_time=first[8],
        actor=first[9],
        built_at=first[10],
        tags=list(first[11]),
        dockerfile_sha256=first[12],
        context_digest=first[13],
        target=first[14],
        build_args=dict(first[15]),
        secret_args=list(first[16]),
        base_images=[BaseImageRow(*row) for row in bases],
        labels=dict(labels),
        pushes=[PushRow(*row) for row in pushes],
        tests=[TestsRow(*row) for row in tests],
        other_runs=[row[1] for row in builds[1:] if row[1] != run_id],
    )


_SUMMARY = (
    "SELECT i.image_id, i.run_id, i.step, r.repository, r.commit, i.built_at, i.tags, "
    "i.tx_id, i.position "
    "FROM {images} i JOIN {image_runs} r USING (run_id) "
)
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page:
    """Which page of a list: builds after `after` (a build's cursor), at most `limit`."""

    after: Cursor | None = None
    limit: int = 100


FIRST_PAGE = Page()


def images_from_commit(
    store: EventStore,
    commit: str,
    as_of: Cursor | None = None,
    page: Page = FIRST_PAGE,
) -> list[ImageSummary]:
    """Images built by runs of `commit` (a full sha, or a prefix of at least 7 hex digits)."""
    with store.connection() as conn:
        return _summaries(
            conn, "r.commit LIKE %(commit)s", {"commit": commit.lower() + "%"}, as_of, page
        )


def images_on_base(
    store: EventStore,
    base_digest: str,
    as_of: Cursor | None = None,
    page: Page = FIRST_PAGE,
) -> list[ImageSummary]:
    """Images built on the base image that resolved to `base_digest`."""
    with store.connection() as conn:
        t = current_tables(conn, ImagesProjection())
        return _summaries(
            conn,
            f"i.position IN (SELECT position FROM {t['image_bases']} WHERE digest = %(base)s)",
            {"base": base_digest},
            as_of,
            page,
        )


def images_with_label(
    store: EventStore,
    key: str,
    value: str | None = None,
    as_of: Cursor | None = None,
    page: Page = FIRST_PAGE,
) -> list[ImageSummary]:
    """Images that carry label `key` (with `value`, if given)."""
    match = "key = %(key)s" + ("" if value is None else " AND value = %(value)s")
    with store.connection() as conn:
        t = current_tables(conn, ImagesProjection())
        return _summaries(
            conn,
            f"i.position IN (SELECT position FROM {t['image_labels']} WHERE {match})",
            {"key": key, "value": value},
            as_of,
            page,
        )


def _summaries(
    conn: psycopg.Connection[Any],
    where: str,
    params: dict[str, Any],
    as_of: Cursor | None,
    page: Page,
) -> list[ImageSummary]:
    """Builds matching `where`, oldest first, one page (keyset on the build's cursor)."""
    if not 1 <= page.limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {page.limit}")
    t = current_tables(conn, ImagesProjection())
    tx, pos = row_bound(as_of)
    after_tx, after_pos = (-1, -1) if page.after is None else row_bound(page.after)
    rows = conn.execute(
        _SUMMARY.format(images=t["images"], image_runs=t["image_runs"])
        + f"WHERE {where} AND (i.tx_id, i.position) <= (%(tx)s, %(pos)s) "
        "AND (i.tx_id, i.position) > (%(after_tx)s, %(after_pos)s) "
        "ORDER BY i.tx_id, i.position LIMIT %(limit)s",
        params
        | {"tx": tx, "pos": pos, "after_tx": after_tx, "after_pos": after_pos}
        | {"limit": page.limit},
    ).fetchall()
    return [
        ImageSummary(
            image_id, run_id, step, repository, commit, built_at, list(tags), str(Cursor(tx, pos))
        )
        for image_id, run_id, step, repository, commit, built_at, tags, tx, pos in rows
    ]


def images_in_use(store: EventStore, built_since: datetime) -> set[str]:
    """Ids of the images that must stay on an engine: one an environment runs now (by id
    or by a digest it was pushed as), or one a run built since `built_since`."""
    with store.connection() as conn:
        running = [
            service.image_digest
            for environment in environments(conn)
            for service in running_in(conn, environment)
            if service.image_digest
        ]
        t = current_tables(conn, ImagesProjection())
        kept = {image_id_for(conn, digest) or digest for digest in running}
        recent = conn.execute(
            f"SELECT image_id FROM {t['images']} WHERE built_at >= %s", (built_since,)
        ).fetchall()
    return kept | {row[0] for row in recent}
