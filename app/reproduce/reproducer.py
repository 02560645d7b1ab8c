"""One reproduction, recorded: ReproductionRequested, the rebuild and comparison, the verdict.

Each reproduction is the stream `repro-<uuid>`: ReproductionRequested at version 0,
ReproductionCompleted at version 1. The run's id is the events' correlation id.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors

from app.reproduce.filesystem import (
    compare_files,
    compare_settings,
    diff_ids,
    file_system,
    first_differences,
)
from app.reproduce.inputs import Subject
from app.reproduce.rebuild import (
    CannotReproduce,
    check_bases,
    check_out,
    check_recorded,
    input_mismatches,
    rebuild,
    set_times,
    source_date_epoch,
)
from events.catalogue import Metadata
from events.store import NO_STREAM, EventStore
from events.vocabulary import ReproductionCompleted, ReproductionRequested

logger = logging.getLogger(__name__)
INTERRUPTED = "interrupted: the reproduction was stopped (Ctrl-C)"


@dataclass(frozen=True)
class Reproduction:
    """A recorded reproduction: its id and both of its events."""

    repro_id: str
    requested: ReproductionRequested
    completed: ReproductionCompleted


class Reproducer:
    """Rebuilds recorded images on one Docker engine and records each verdict."""

    def __init__(self, store: EventStore, client: Any, work_dir: Path) -> None:
        self.store = store
        self.client = client
        self.work_dir = work_dir

    def reproduce(
        self,
        subject: Subject,
        metadata: Metadata,
        *,
        keep: bool = False,
        log: Callable[[str], None] = lambda line: None,
    ) -> Reproduction:
        """Rebuild `subject`'s image from its recorded inputs, compare, and record the verdict.

        The rebuilt image is removed afterwards unless `keep` (or it is the original).
        """
        started = time.monotonic()
        repro_id = str(uuid.uuid4())
        stream = f"repro-{repro_id}"
        correlated = metadata.model_copy(update={"correlation_id": subject.run_id})
        requested = ReproductionRequested(
            image_digest=subject.asked
            if subject.asked != subject.run_id
            else subject.built.image_id,
            image_id=subject.built.image_id,
            run_id=subject.run_id,
            step=subject.built.step,
            source_date_epoch=source_date_epoch(subject),
        )
        self.store.append(stream, [requested], NO_STREAM, correlated)
        try:
            outcome = self._verdict(subject, keep=keep, log=log)
        except CannotReproduce as exc:
            outcome = _cannot(str(exc))
        except docker.errors.APIError as exc:
            outcome = _cannot(f"the Docker engine refused: {exc.explanation or exc}")
        except KeyboardInterrupt:
            self._complete(stream, requested, started, correlated, _cannot(INTERRUPTED))
            raise
        except Exception as exc:
            # A bug or a failure below shiplog: the type goes into the ledger (its message
            # may quote configuration), the traceback into the log.
            logger.exception("reproduction %s failed unexpectedly", repro_id)
            outcome = _cannot(f"internal error ({type(exc).__name__}); see the log")
        completed = self._complete(stream, requested, started, correlated, outcome)
        return Reproduction(repro_id=repro_id, requested=requested, completed=completed)

    def _complete(
        self,
        stream: str,
        requested: ReproductionRequested,
        started: float,
        metadata: Metadata,
        outcome: dict[str, Any],
    ) -> ReproductionCompleted:
        """Record ReproductionCompleted with the outcome's fields; return it."""
        completed = ReproductionCompleted(
            image_digest=requested.image_digest,
            image_id=requested.image_id,
            duration_ms=int((time.monotonic() - started) * 1000),
            **outcome,
        )
        self.store.append(stream, [completed], 0, metadata)
        return completed

    def _verdict(
        self, subject: Subject, *, keep: bool, log: Callable[[str], None]
    ) -> dict[str, Any]:
        """Check, rebuild, compare: the ReproductionCompleted fields besides the image's."""
        check_recorded(subject)
        check_bases(self.client, subject.built.base_images)
        original_id = subject.built.image_id
        try:
            original = self.client.images.get(original_id).attrs
        except docker.errors.ImageNotFound:
            raise CannotReproduce(
                f"the original image {original_id} is no longer on this engine, so there is "
                "nothing to compare the rebuild with"
            ) from None
        self.work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="repro-", dir=self.work_dir) as scratch:
            workspace = Path(scratch) / "source"
            check_out(subject, workspace)
            set_times(workspace, source_date_epoch(subject))
            built = rebuild(self.client, subject, workspace, log)
        try:
            mismatched = input_mismatches(subject.built, built)
            if mismatched:
                raise CannotReproduce(
                    "the rebuild did not get the recorded inputs: " + ", ".join(mismatched)
                )
            return self._compare(original_id, original, built.image_id)
        finally:
            if not keep and built.image_id != original_id:
                with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
                    self.client.images.remove(built.image_id, force=True, noprune=False)

    def _compare(
        self, original_id: str, original: dict[str, Any], rebuilt_id: str
    ) -> dict[str, Any]:
        """The comparison's fields: identical ids end it; otherwise layers, settings and files."""
        if rebuilt_id == original_id:
            return {
                "verdict": "identical",
                "rebuilt_image_id": rebuilt_id,
                "layers_identical": True,
                "compared": ("config-digest",),
            }
        rebuilt = self.client.images.get(rebuilt_id).attrs
        files_before = file_system(self.client, original_id)
        files_after = file_system(self.client, rebuilt_id)
        differences = compare_files(files_before, files_after)
        settings = compare_settings(original, rebuilt)
        return {
            "verdict": "differs" if differences or settings else "same-content",
            "rebuilt_image_id": rebuilt_id,
            "layers_identical": diff_ids(original) == diff_ids(rebuilt),
            "compared": ("config-digest", "layer-diff-ids", "settings", "files"),
            "files_compared": len(files_before.keys() | files_after.keys()),
            "differences": first_differences(differences),
            "differences_total": len(differences),
            "config_differences": tuple(settings),
        }


def _cannot(reason: str) -> dict[str, Any]:
    """The outcome fields of a `cannot-reproduce` verdict."""
    return {"verdict": "cannot-reproduce", "reason": reason}
