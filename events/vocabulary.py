"""shiplog's event types: the contract every writer and reader of the ledger shares.

Each class is one event type. Its docstring's first line is what docs/events.md
says of it (generated: `shiplog events catalogue --markdown`), its `categories`
name the streams it may be appended to, and its fields are its schema at
`schema_version`. Change a field and you must bump `schema_version` and register
an upcaster from the old version in `CATALOGUE`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from events.catalogue import Catalogue, Event

RUN = ("run",)
REPO = ("repo",)
ENV = ("env",)
INCIDENT = ("incident",)
REPRO = ("repro",)


class Value(BaseModel):
    """Base of the small records nested inside events."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class BaseImage(Value):
    """A `FROM` image as written and the digest it resolved to before the build."""

    name: str
    digest: str


class Finding(Value):
    """One vulnerability advisory matched against one installed package."""

    advisory: str
    aliases: tuple[str, ...] = ()
    package: str
    installed_version: str
    fixed_version: str | None = None
    severity: str | None = None


class Commit(Value):
    """A commit as a push webhook reports it."""

    sha: str
    authored_at: datetime


# --- run-<id>: one pipeline run ------------------------------------------------------


class RunQueued(Event):
    """A pipeline run was requested for one commit of a repository."""

    categories = RUN
    repository: str
    commit: str
    ref: str
    commit_time: datetime | None = None
    trigger: str
    pipeline_path: str
    pipeline_digest: str
    dirty: bool = False
    checkout: str | None = None


class RunClaimed(Event):
    """A runner took the run; the stream version it appended at is the lock."""

    categories = RUN
    runner: str
    runner_version: str
    docker_version: str | None = None


class StepStarted(Event):
    """A step's container started."""

    categories = RUN
    step: str
    image: str
    image_digest: str | None = None
    commands_digest: str


class StepFinished(Event):
    """A step's container exited; the log digest lets anyone verify the stored log."""

    categories = RUN
    step: str
    exit_code: int
    duration_ms: int
    log_sha256: str
    log_lines: int
    timed_out: bool = False


class StepSkipped(Event):
    """A step did not run, and why (its `when` did not match, or an earlier step failed)."""

    categories = RUN
    step: str
    reason: str


class ImageBuilt(Event):
    """A build step produced an image from fully resolved inputs."""

    categories = RUN
    step: str
    image_id: str
    base_images: tuple[BaseImage, ...]
    dockerfile_sha256: str
    context_digest: str
    build_args: dict[str, str]
    secret_args: tuple[str, ...] = ()
    target: str | None = None
    labels: dict[str, str]
    tags: tuple[str, ...] = ()


class TestsReported(Event):
    """A step's JUnit reports were read: counts and the names of failing tests."""

    __test__ = False  # not a pytest test class, despite its name
    categories = RUN
    step: str
    passed: int
    failed: int
    skipped: int
    failing: tuple[str, ...] = ()
    report_sha256: str


class ImagePushed(Event):
    """An image was pushed; the digest is the manifest digest the registry returned."""

    categories = RUN
    step: str
    repository: str
    tag: str
    digest: str


class SbomGenerated(Event):
    """A CycloneDX SBOM was made for an image and stored under its digest."""

    categories = RUN
    image_digest: str
    sbom_digest: str
    components: int


class ScanCompleted(Event):
    """An image's packages were matched against an advisory set."""

    categories = RUN
    image_digest: str
    advisory_set_digest: str
    findings: tuple[Finding, ...]


class ProvenanceSigned(Event):
    """An image's SLSA provenance was signed into a DSSE envelope."""

    categories = RUN
    image_digest: str
    envelope_digest: str
    key_id: str


class RunSucceeded(Event):
    """Every step that had to run succeeded."""

    categories = RUN
    duration_ms: int


class RunFailed(Event):
    """The run failed: a step failed, the runner was lost, or it could not start."""

    categories = RUN
    reason: str
    step: str | None = None


class RunCancelled(Event):
    """Someone cancelled the run; its containers were stopped."""

    categories = RUN
    reason: str | None = None


# --- repo-<name>: what a VCS reported -------------------------------------------------


class CommitsPushed(Event):
    """Commits reached a branch of a repository, with their author times."""

    categories = REPO
    repository: str
    ref: str
    commits: tuple[Commit, ...]


# --- env-<name>: deployments ----------------------------------------------------------


class DeploymentStarted(Event):
    """A rollout of an image to a service of this environment began."""

    categories = ENV
    deployment_id: str
    service: str
    image_digest: str
    strategy: str = "rolling"
    run_id: str | None = None


class DeploymentSucceeded(Event):
    """A rollout finished and the service runs the new image."""

    categories = ENV
    deployment_id: str
    service: str
    image_digest: str


class DeploymentFailed(Event):
    """A rollout did not complete."""

    categories = ENV
    deployment_id: str
    service: str
    reason: str


class RolledBack(Event):
    """A service was returned to an earlier image."""

    categories = ENV
    deployment_id: str
    service: str
    image_digest: str
    reason: str | None = None


class ApprovalGranted(Event):
    """Someone approved a run's deployment to this protected environment."""

    categories = ENV
    run_id: str
    service: str | None = None


# --- incident-<id> ----------------------------------------------------------------------


class IncidentOpened(Event):
    """A production incident began, possibly caused by a known deployment."""

    categories = INCIDENT
    environment: str
    service: str
    summary: str
    caused_by_deployment: str | None = None


class IncidentResolved(Event):
    """A production incident ended."""

    categories = INCIDENT
    resolution: str | None = None


# --- repro-<id> -------------------------------------------------------------------------


class ReproductionRequested(Event):
    """Someone asked to rebuild a past image from its recorded inputs."""

    categories = REPRO
    image_digest: str
    run_id: str


class ReproductionCompleted(Event):
    """A rebuild finished: identical, same content, differs (with the diff) or impossible."""

    categories = REPRO
    image_digest: str
    verdict: Literal["identical", "same-content", "differs", "cannot-reproduce"]
    differences: tuple[str, ...] = ()
    reason: str | None = None


CATALOGUE = Catalogue(
    cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, Event) and cls is not Event
)
