"""Search: what a digest (or prefix), a commit sha, a run id or a tag names.

Each kind of answer is looked up in the runs projection: run ids in its runs
table, commits in runs.commit, image ids and manifest digests in run_images and
run_pushes, tags in both. Each hit names the run or the image it leads to.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

from app.projections.runs import RunsProjection
from events.projections import current_tables
from events.store import EventStore

MAX_MATCHES = 20
_HEX = re.compile(r"(?:sha256:)?([0-9a-f]{4,64})")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*")


@dataclass(frozen=True)
class SearchHit:
    """One thing the query names: what it is, how to show it, and the run or image it is."""

    kind: str
    label: str
    subject: Literal["run", "image"]
    key: str


def search(store: EventStore, q: str) -> list[SearchHit]:
    """Every run or image `q` may name (at most MAX_MATCHES), most specific kinds first."""
    matches: list[SearchHit] = []
    with store.connection() as conn:
        t = current_tables(conn, RunsProjection())
        try:
            run_id = str(uuid.UUID(q))
        except ValueError:
            run_id = None
        if run_id is not None:
            rows = conn.execute(f"SELECT run_id FROM {t['runs']} WHERE run_id = %s", (run_id,))
            matches += [SearchHit("run", r[0], "run", r[0]) for r in rows]
        hexed = _HEX.fullmatch(q.lower())
        if hexed is not None and run_id is None:
            prefix = _like(hexed.group(1))
            if not q.lower().startswith("sha256:"):
                rows = conn.execute(
                    f"SELECT run_id FROM {t['runs']} WHERE run_id LIKE %s LIMIT %s",
                    (prefix, MAX_MATCHES),
                )
                matches += [SearchHit("run", r[0], "run", r[0]) for r in rows]
                rows = conn.execute(
                    f"SELECT run_id, commit FROM {t['runs']} WHERE commit LIKE %s "
                    "ORDER BY queued_at DESC LIMIT %s",
                    (prefix, MAX_MATCHES),
                )
                matches += [
                    SearchHit("commit", f"{r[1][:12]} (run {r[0][:8]})", "run", r[0]) for r in rows
                ]
            digest = "sha256:" + prefix
            rows = conn.execute(
                f"SELECT DISTINCT digest FROM {t['run_pushes']} WHERE digest LIKE %s LIMIT %s",
                (digest, MAX_MATCHES),
            )
            matches += [SearchHit("image", r[0], "image", r[0]) for r in rows]
            rows = conn.execute(
                f"SELECT DISTINCT image_id FROM {t['run_images']} WHERE image_id LIKE %s LIMIT %s",
                (digest, MAX_MATCHES),
            )
            matches += [SearchHit("image", r[0], "image", r[0]) for r in rows]
        if _TAG.fullmatch(q) and not matches:
            matches += _tags(conn, t, q)
    return _distinct(matches)[:MAX_MATCHES]


def _tags(conn: psycopg.Connection[Any], t: dict[str, str], q: str) -> list[SearchHit]:
    """Images pushed as `q` (`repo:tag`, or only the tag), or built with tag `q`."""
    repository, sep, tag = q.rpartition(":")
    found: list[SearchHit] = []
    execute = conn.execute
    if sep and "/" not in tag:
        rows = execute(
            f"SELECT DISTINCT digest FROM {t['run_pushes']} WHERE repository = %s AND tag = %s "
            "LIMIT %s",
            (repository, tag, MAX_MATCHES),
        )
        found += [SearchHit("image", f"{q} = {r[0]}", "image", r[0]) for r in rows]
    rows = execute(
        f"SELECT DISTINCT repository, tag, digest FROM {t['run_pushes']} WHERE tag = %s LIMIT %s",
        (q, MAX_MATCHES),
    )
    found += [SearchHit("image", f"{r[0]}:{r[1]} = {r[2]}", "image", r[2]) for r in rows]
    rows = execute(
        f"SELECT DISTINCT image_id FROM {t['run_images']} WHERE %s = ANY(tags) LIMIT %s",
        (q, MAX_MATCHES),
    )
    found += [SearchHit("image", f"{q} = {r[0]}", "image", r[0]) for r in rows]
    return found


def _like(prefix: str) -> str:
    """A LIKE pattern for values starting with `prefix` (hex only, so nothing to escape)."""
    return prefix + "%"


def _distinct(matches: list[SearchHit]) -> list[SearchHit]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for match in matches:
        if (match.subject, match.key) not in seen:
            seen.add((match.subject, match.key))
            kept.append(match)
    return kept
