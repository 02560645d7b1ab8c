"""The search box: a digest (or prefix), a commit sha, a run id or a tag, to the page it names.

Each kind of answer is looked up in the runs projection: run ids in proj_runs_v1,
commits in proj_runs_v1.commit, image ids and manifest digests in
proj_run_images_v1 and proj_run_pushes_v1, tags in both. One match goes straight
to its page; several are listed; none is a 404 that says what was looked for.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg

from app.projections.runs import RunsProjection
from app.web.errors import BadParameter
from app.web.services import params
from events.projections import current_tables
from events.store import EventStore

MAX_MATCHES = 20
_HEX = re.compile(r"(?:sha256:)?([0-9a-f]{4,64})")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*")


@dataclass(frozen=True)
class Match:
    """One thing the query names: what it is, how to show it, and its page."""

    kind: str
    label: str
    url: str


def search(store: EventStore, q: str) -> list[Match]:
    """Every page `q` may name (at most MAX_MATCHES), most specific kinds first."""
    q = params.text({"q": q}, "q") or ""
    if not q:
        raise BadParameter("q", "type a digest, a commit sha, a run id or a tag")
    matches: list[Match] = []
    with store.connection() as conn:
        t = current_tables(conn, RunsProjection())
        try:
            run_id = str(uuid.UUID(q))
        except ValueError:
            run_id = None
        if run_id is not None:
            rows = conn.execute(f"SELECT run_id FROM {t['runs']} WHERE run_id = %s", (run_id,))
            matches += [Match("run", r[0], f"/runs/{r[0]}") for r in rows]
        hexed = _HEX.fullmatch(q.lower())
        if hexed is not None and run_id is None:
            prefix = _like(hexed.group(1))
            if not q.lower().startswith("sha256:"):
                rows = conn.execute(
                    f"SELECT run_id FROM {t['runs']} WHERE run_id LIKE %s LIMIT %s",
                    (prefix, MAX_MATCHES),
                )
                matches += [Match("run", r[0], f"/runs/{r[0]}") for r in rows]
                rows = conn.execute(
                    f"SELECT run_id, commit FROM {t['runs']} WHERE commit LIKE %s "
                    "ORDER BY queued_at DESC LIMIT %s",
                    (prefix, MAX_MATCHES),
                )
                matches += [
                    Match("commit", f"{r[1][:12]} (run {r[0][:8]})", f"/runs/{r[0]}") for r in rows
                ]
            digest = "sha256:" + prefix
            rows = conn.execute(
                f"SELECT DISTINCT digest FROM {t['run_pushes']} WHERE digest LIKE %s LIMIT %s",
                (digest, MAX_MATCHES),
            )
            matches += [Match("image", r[0], f"/images/{r[0]}") for r in rows]
            rows = conn.execute(
                f"SELECT DISTINCT image_id FROM {t['run_images']} WHERE image_id LIKE %s LIMIT %s",
                (digest, MAX_MATCHES),
            )
            matches += [Match("image", r[0], f"/images/{r[0]}") for r in rows]
        if _TAG.fullmatch(q) and not matches:
            matches += _tags(conn, t, q)
    return _distinct(matches)[:MAX_MATCHES]


def _tags(conn: psycopg.Connection[Any], t: dict[str, str], q: str) -> list[Match]:
    """Images pushed as `q` (`repo:tag`, or only the tag), or built with tag `q`."""
    repository, sep, tag = q.rpartition(":")
    found: list[Match] = []
    execute = conn.execute
    if sep and "/" not in tag:
        rows = execute(
            f"SELECT DISTINCT digest FROM {t['run_pushes']} WHERE repository = %s AND tag = %s "
            "LIMIT %s",
            (repository, tag, MAX_MATCHES),
        )
        found += [Match("image", f"{q} = {r[0]}", f"/images/{r[0]}") for r in rows]
    rows = execute(
        f"SELECT DISTINCT repository, tag, digest FROM {t['run_pushes']} WHERE tag = %s LIMIT %s",
        (q, MAX_MATCHES),
    )
    found += [Match("image", f"{r[0]}:{r[1]} = {r[2]}", f"/images/{r[2]}") for r in rows]
    rows = execute(
        f"SELECT DISTINCT image_id FROM {t['run_images']} WHERE %s = ANY(tags) LIMIT %s",
        (q, MAX_MATCHES),
    )
    found += [Match("image", f"{q} = {r[0]}", f"/images/{r[0]}") for r in rows]
    return found


def _like(prefix: str) -> str:
    """A LIKE pattern for values starting with `prefix` (hex only, so nothing to escape)."""
    return prefix + "%"


def _distinct(matches: list[Match]) -> list[Match]:
    seen: set[str] = set()
    kept = []
    for match in matches:
        if match.url not in seen:
            seen.add(match.url)
            kept.append(match)
    return kept
