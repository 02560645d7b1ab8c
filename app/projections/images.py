"""The images projection: what each image was built from, its labels, pushes and tests.

Folded from the run-* streams (migrations/0014_images_projection.sql). Every row
is written once by one event and keeps that event's cursor, so app/queries/images.py
answers `as_of` by filtering rows instead of re-folding. Nothing is updated: the
facts of a build never change after it is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from app.projections.sql import insert_sql
from events.projections import Write, table_name
from events.store import RecordedEvent
from events.vocabulary import ImageBuilt, ImagePushed, RunQueued, TestsReported

VERSION = 1
RELATIONS = ("images", "image_runs", "image_bases", "image_labels", "image_pushes", "run_tests")


class ImagesProjection:
    """Built images with their inputs, labels, pushes, and their runs' sources and tests."""

    name = "images"
    relations = RELATIONS
    # Every write is an insert or an order-tolerant upsert: batches may be grouped.
    writes_commute = True

    def __init__(self, version: int = VERSION) -> None:
        self.version = version
        images, runs, bases, labels, pushes, tests = (table_name(r, version) for r in RELATIONS)
        self._image = insert_sql(
            images,
            ("position", "tx_id", "run_id", "step", "image_id", "tags", "dockerfile_sha256",
             "context_digest", "target", "build_args", "secret_args", "built_at"),
        )  # fmt: skip
        self._run = insert_sql(
            runs,
            ("run_id", "position", "tx_id", "repository", "commit", "ref", "pipeline_path",
             "trigger", "commit_time", "actor"),
        )  # fmt: skip
        self._base = insert_sql(bases, ("position", "ordinal", "tx_id", "name", "digest"))
        self._label = insert_sql(labels, ("position", "tx_id", "key", "value"))
        # Schema version 1 pushes did not record the image id: those rows have none.
        self._push = insert_sql(
            pushes,
            ("position", "tx_id", "run_id", "step", "image_id", "repository", "tag", "digest",
             "pushed_at"),
        )  # fmt: skip
        self._tests = insert_sql(
            tests,
            ("position", "tx_id", "run_id", "step", "passed", "failed", "skipped", "failing",
             "report_sha256", "reported_at"),
        )  # fmt: skip

    def handle(self, event: RecordedEvent) -> Iterator[Write]:
        """The writes that fold one event in; only run-* events write anything."""
        if not event.stream.startswith("run-"):
            return
        run_id = event.stream.removeprefix("run-")
        data, pos, tx = event.data, event.position, event.tx_id
        if isinstance(data, RunQueued):
            yield self._run, (
                run_id, pos, tx, data.repository, data.commit, data.ref, data.pipeline_path,
                data.trigger, data.commit_time, event.metadata.actor,
            )  # fmt: skip
        elif isinstance(data, ImageBuilt):
            yield self._image, (
                pos, tx, run_id, data.step, data.image_id, list(data.tags),
                data.dockerfile_sha256, data.context_digest, data.target,
                json.dumps(data.build_args, sort_keys=True), list(data.secret_args),
                event.recorded_at,
            )  # fmt: skip
            for ordinal, base in enumerate(data.base_images):
                yield self._base, (pos, ordinal, tx, base.name, base.digest)
            for key, value in sorted(data.labels.items()):
                yield self._label, (pos, tx, key, value)
        elif isinstance(data, ImagePushed):
            yield self._push, (
                pos, tx, run_id, data.step, data.image_id, data.repository, data.tag,
                data.digest, event.recorded_at,
            )  # fmt: skip
        elif isinstance(data, TestsReported):
            yield self._tests, (
                pos, tx, run_id, data.step, data.passed, data.failed, data.skipped,
                list(data.failing), data.report_sha256, event.recorded_at,
            )  # fmt: skip
