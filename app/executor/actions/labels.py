"""The labels shiplog puts on every image it builds: OCI annotations, the run id, the user's.

`org.opencontainers.image.created` is the commit time, not the build time, so that a
rebuild of the same commit can be identical; the build time is used only without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from docker.utils import parse_repository_tag

from app.executor.actions.errors import StepFailed
from app.executor.actions.support import RESERVED_LABEL_PREFIX, RUN_LABEL
from events.vocabulary import BaseImage, RunQueued

OCI = "org.opencontainers.image."


@dataclass(frozen=True)
class SourceFacts:
    """The source a run builds: repository URL, commit, its time, the ref, the pipeline's name."""

    repository: str
    commit: str
    commit_time: datetime | None
    ref: str
    pipeline_name: str

    @classmethod
    def of_run(cls, queued: RunQueued, pipeline_name: str) -> SourceFacts:
        """The facts a run's RunQueued recorded (a reproduction takes them from there too)."""
        return cls(
            repository=queued.repository,
            commit=queued.commit,
            commit_time=queued.commit_time,
            ref=queued.ref,
            pipeline_name=pipeline_name,
        )


def rfc3339_utc(moment: datetime) -> str:
    """`2024-05-01T12:00:00Z`: the moment in UTC (a naive one is taken as UTC), whole seconds."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def without_credentials(url: str) -> str:
    """The URL without any `user:password@` part."""
    parts = urlsplit(url)
    if not parts.netloc or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def oci_labels(
    source: SourceFacts,
    run_id: str,
    tags: tuple[str, ...],
    final_base: BaseImage | None,
    user_labels: Mapping[str, str],
) -> dict[str, str]:
    """The OCI annotations shiplog sets, the run id, then the user's labels (not dev.shiplog.*)."""
    reserved = sorted(key for key in user_labels if key.startswith(RESERVED_LABEL_PREFIX))
    if reserved:
        raise StepFailed(
            f"labels under {RESERVED_LABEL_PREFIX}* are shiplog's: {', '.join(reserved)}"
        )
    created = source.commit_time or datetime.now(UTC)
    _, tag = parse_repository_tag(tags[0]) if tags else (None, None)
    labels = {
        OCI + "created": rfc3339_utc(created),
        OCI + "source": without_credentials(source.repository),
        OCI + "revision": source.commit,
        OCI + "version": tag if tag and not tag.startswith("sha256:") else source.commit[:12],
        OCI + "title": source.pipeline_name,
    }
    if final_base is not None:
        labels[OCI + "base.name"] = final_base.name
        labels[OCI + "base.digest"] = final_base.digest
    labels[RUN_LABEL] = run_id
    return {**labels, **user_labels}
