"""SLSA Provenance v1 in an in-toto Statement v1, built from a run's events alone.

`statement(run_id, events, image)` is a pure function: the same events give the
same statement, key for key, so the statement a runner signs and the one the
API serves later from the ledger are equal. docs/provenance.md defines the
build type and maps every field to the event it comes from.

A run's images: each ImageBuilt, with the ImagePushed events of the same image
(matched by `image_id`; a version 1 ImagePushed has none and is credited to the
run's only image when the run built exactly one; a version 2 one without an
image id pushed an image the run did not build, and is nobody's here). The statement's subject is
what consumers pull by: the manifest digests the image was pushed as, one per
repository and digest; an image never pushed has only its image id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from events.canonical import canonical_json, format_timestamp
from events.store import RecordedEvent
from events.vocabulary import (
    ImageBuilt,
    ImagePushed,
    ProvenanceSigned,
    RunCancelled,
    RunClaimed,
    RunFailed,
    RunQueued,
    RunSucceeded,
    StepFinished,
    TestsReported,
)

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://shiplog.dev/provenance/build-step/v1"
BUILDER_PREFIX = "urn:shiplog:runner:"
LOG_MEDIA_TYPE = "text/plain; charset=utf-8"
# Events after which no step of the run ends any more.
_STEPS_OVER = (RunSucceeded, RunFailed, RunCancelled, ProvenanceSigned)


class ProvenanceUnavailable(Exception):
    """The events do not hold what a statement needs (no RunQueued or no RunClaimed)."""


@dataclass(frozen=True)
class RunImage:
    """One image a run built, with the pushes of it recorded so far."""

    built: ImageBuilt
    pushes: tuple[ImagePushed, ...]

    @property
    def digests(self) -> frozenset[str]:
        """Every digest the image is known by: its image id and its manifest digests."""
        return frozenset({self.built.image_id, *(push.digest for push in self.pushes)})

    @property
    def subject_digests(self) -> tuple[str, ...]:
        """The digests the statement's subject names, in order (see the module's doc)."""
        return tuple(digest for _, digest in _subjects(self))


def run_images(events: Sequence[RecordedEvent]) -> list[RunImage]:
    """The images built in a run's events, in stream order, each with its pushes."""
    builds = [event.data for event in events if isinstance(event.data, ImageBuilt)]
    # (push, whether it is of schema version 1, which did not record the image id)
    pushes = [
        (event.data, event.schema_version == 1)
        for event in events
        if isinstance(event.data, ImagePushed)
    ]

    def of(built: ImageBuilt) -> tuple[ImagePushed, ...]:
        return tuple(
            push
            for push, old in pushes
            if push.image_id == built.image_id or (old and len(builds) == 1)
        )

    return [RunImage(built, of(built)) for built in builds]


def image_in_run(events: Sequence[RecordedEvent], digest: str) -> RunImage | None:
    """The first image of the run known by `digest` (image id or manifest digest), if any."""
    return next((image for image in run_images(events) if digest in image.digests), None)


def steps_over(events: Sequence[RecordedEvent]) -> bool:
    """True once the events say no step of the run will end any more."""
    return any(isinstance(event.data, _STEPS_OVER) for event in events)


def statement(
    run_id: str, events: Sequence[RecordedEvent], image: RunImage, *, finished: bool
) -> dict[str, Any]:
    """The in-toto Statement v1 with SLSA Provenance v1 for `image`, as JSON-ready data.

    `finished` says the run's steps are over, so `finishedOn` (the last step's end)
    is known; the runner signs with it True, readers pass `steps_over(events)`.
    """
    queued = next((e.data for e in events if isinstance(e.data, RunQueued)), None)
    claim = next((e for e in events if isinstance(e.data, RunClaimed)), None)
    if queued is None or claim is None or not isinstance(claim.data, RunClaimed):
        raise ProvenanceUnavailable(f"run {run_id} has no RunQueued or RunClaimed event")
    claimed = claim.data
    built = image.built
    external = {
        "repository": queued.repository,
        "ref": queued.ref,
        "pipeline": queued.pipeline_path,
        "step": built.step,
        "dirty": queued.dirty,
    }
    internal: dict[str, Any] = {
        "trigger": queued.trigger,
        "buildArgs": dict(built.build_args),
        "secretArgs": list(built.secret_args),
        "tags": list(built.tags),
        "labels": dict(built.labels),
        "imageId": built.image_id,
    }
    if built.secret_mounts:
        internal["secretMounts"] = list(built.secret_mounts)
    if built.target is not None:
        internal["target"] = built.target
    metadata = {"invocationId": run_id, "startedOn": format_timestamp(claim.recorded_at)}
    ends = [event.recorded_at for event in events if isinstance(event.data, StepFinished)]
    if finished and ends:
        metadata["finishedOn"] = format_timestamp(max(ends))
    version = {"shiplog": claimed.runner_version}
    if claimed.docker_version is not None:
        version["docker"] = claimed.docker_version
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": digest_set(d)} for name, d in _subjects(image)],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external,
                "internalParameters": internal,
                "resolvedDependencies": _dependencies(queued, built),
            },
            "runDetails": {
                "builder": {
                    "id": BUILDER_PREFIX + quote(claimed.runner, safe=":@"),
                    "version": version,
                },
                "metadata": metadata,
                "byproducts": _byproducts(events),
            },
        },
    }


def statement_bytes(value: dict[str, Any]) -> bytes:
    """The bytes a statement is signed as: canonical JSON (RFC 8785), UTF-8."""
    return canonical_json(value)


def digest_set(digest: str) -> dict[str, str]:
    """An in-toto DigestSet of `sha256:<hex>` (or a bare hex sha256): {"sha256": hex}."""
    algorithm, sep, value = digest.partition(":")
    return {algorithm: value} if sep else {"sha256": digest}


def _subjects(image: RunImage) -> list[tuple[str, str]]:
    """(name, digest) of the subject: each pushed repository and digest once, else the id."""
    pushed = list(dict.fromkeys((push.repository, push.digest) for push in image.pushes))
    if pushed:
        return pushed
    name = image.built.tags[0] if image.built.tags else image.built.step
    return [(name, image.built.image_id)]


def _dependencies(queued: RunQueued, built: ImageBuilt) -> list[dict[str, Any]]:
    """resolvedDependencies: the commit, the pipeline file, Dockerfile, context, base images."""
    found: list[dict[str, Any]] = [
        {
            "name": "source",
            "uri": f"git+{queued.repository}@{queued.ref}",
            "digest": {"gitCommit": queued.commit},
        },
        {
            "name": "pipeline",
            "digest": digest_set(queued.pipeline_digest),
            "annotations": {"path": queued.pipeline_path},
        },
        {"name": "dockerfile", "digest": digest_set(built.dockerfile_sha256)},
        {"name": "context", "digest": digest_set(built.context_digest)},
    ]
    found += [
        {
            "name": "base-image",
            "digest": digest_set(base.digest),
            "annotations": {"reference": base.name},
        }
        for base in built.base_images
    ]
    return found


def _byproducts(events: Sequence[RecordedEvent]) -> list[dict[str, Any]]:
    """byproducts: every sealed step log and every test report digest, in stream order.

    A log closed by another process (a cancel) was not sealed, so it has no digest to name.
    """
    found: list[dict[str, Any]] = []
    for event in events:
        data = event.data
        if isinstance(data, StepFinished) and data.log_sha256 is not None:
            found.append(
                {
                    "name": f"log/{data.step}",
                    "digest": digest_set(data.log_sha256),
                    "mediaType": LOG_MEDIA_TYPE,
                    "annotations": {"lines": data.log_lines, "exitCode": data.exit_code},
                }
            )
        elif isinstance(data, TestsReported):
            found.append(
                {
                    "name": f"test-report/{data.step}",
                    "digest": digest_set(data.report_sha256),
                    "annotations": {
                        "passed": data.passed,
                        "failed": data.failed,
                        "skipped": data.skipped,
                    },
                }
            )
    return found


def check_statement(value: dict[str, Any], digest: str | None = None) -> list[str]:
    """Check a verified payload is an in-toto v1 statement (about `digest`); its subject digests.

    Raises ValueError saying, in one line, what is wrong.
    """
    if value.get("_type") != STATEMENT_TYPE:
        raise ValueError(f"not an in-toto Statement v1: _type is {value.get('_type')!r}")
    if value.get("predicateType") != PREDICATE_TYPE:
        raise ValueError(f"not SLSA Provenance v1: predicateType is {value.get('predicateType')!r}")
    subjects = value.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise ValueError("the statement has no subject")
    found = []
    for entry in subjects:
        digests = entry.get("digest") if isinstance(entry, dict) else None
        if not isinstance(digests, dict) or not digests:
            raise ValueError("a subject of the statement has no digest")
        found += [f"{algorithm}:{hex_value}" for algorithm, hex_value in sorted(digests.items())]
    if digest is not None and digest not in found:
        raise ValueError(
            f"subject digest mismatch: the statement is about {', '.join(found)}, not {digest}"
        )
    return found
