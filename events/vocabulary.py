"""shiplog's event types: the contract every writer and reader of the ledger shares.

Each class is one event type. Its docstring's first line is what docs/events.md
says of it (generated: `shiplog events catalogue --markdown`), its `categories`
name the streams it may be appended to, and its fields are its schema at
`schema_version`. Change a field and you must bump `schema_version` and register
an upcaster from the old version in `CATALOGUE`.

Every field says what it holds with `Field(description=...)`: one line, true to what
the writer records (the executor, for the `run-*` events), shown in the "meaning"
column of docs/events.md. tests/test_docs.py fails for a field without one.
Conventions: fields named `*_sha256` hold a bare hex sha256, digests described as
`sha256:<hex>` carry that prefix; durations are integer milliseconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from events.catalogue import Catalogue, Event

RUN = ("run",)
REPO = ("repo",)
ENV = ("env",)
INCIDENT = ("incident",)
REPRO = ("repro",)
NOTIFY = ("notify",)
REPO_OR_HOOKS = ("repo", "hooks")
RUN_OR_IMAGE = ("run", "image")
ENGINE = ("engine",)


class Value(BaseModel):
    """Base of the small records nested inside events."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class BaseImage(Value):
    """A `FROM` image as written and the digest it resolved to before the build."""

    name: str = Field(
        description="The image a `FROM` line names, with global `ARG`s substituted, "
        "e.g. `debian:bookworm`."
    )
    digest: str = Field(
        description="What that name resolved to on the engine before the build: the digest "
        "it pins, else its registry digest for that repository, else the local image id."
    )


class Finding(Value):
    """One vulnerability advisory matched against one installed package."""

    advisory: str = Field(description="The advisory's id in the advisory set (an OSV id).")
    aliases: tuple[str, ...] = Field(
        default=(), description="Other ids the advisory gives for itself, e.g. `CVE-…`."
    )
    package: str = Field(description="The name of the installed package the advisory affects.")
    installed_version: str = Field(description="The version of that package in the image.")
    fixed_version: str | None = Field(
        default=None, description="A version that fixes it, if the advisory names one."
    )
    severity: str | None = Field(
        default=None,
        description="`critical`, `high`, `medium` or `low`: the gravest the advisory states "
        "(CVSS vectors rated by their base score, or a word); null if it states none.",
    )
    ecosystem: str = Field(
        description="The OSV ecosystem the package was matched in, e.g. `Debian:12`, `PyPI`."
    )
    purl: str = Field(description="The installed package's purl, as in the SBOM.")


class SeverityCounts(Value):
    """How many findings of a scan there are at each severity."""

    critical: int = Field(default=0, description="Findings rated critical.")
    high: int = Field(default=0, description="Findings rated high.")
    medium: int = Field(default=0, description="Findings rated medium.")
    low: int = Field(default=0, description="Findings rated low.")
    unknown: int = Field(default=0, description="Findings whose advisory states no severity.")


class SkippedAdvisory(Value):
    """An advisory record a scan could not read, and so did not use."""

    source: str = Field(
        description="The record's file relative to the advisory folder (a zip member as "
        "`<zip>!<member>`)."
    )
    id: str | None = Field(default=None, description="The record's `id`, if it could be read.")
    reason: str = Field(description="Why it could not be read, naming the field at fault.")


class Commit(Value):
    """A commit as a push webhook reports it."""

    sha: str = Field(description="The commit's full sha.")
    authored_at: datetime = Field(description="The commit's author time, as the webhook gives it.")
    author: str | None = Field(
        default=None,
        description="The commit's author as the webhook names them, `Name <email>`; null in "
        "events of schema version 1.",
    )


# --- run-<id>: one pipeline run ------------------------------------------------------


class RunQueued(Event):
    """A pipeline run was requested for one commit of a repository."""

    categories = RUN
    schema_version = 2  # 2 added branch and untrusted
    repository: str = Field(
        description="The source's URL: the checkout's `origin` remote without credentials, "
        "or `file://` and the checkout's path when it has no `origin`."
    )
    commit: str = Field(description="The full sha of the commit the run is for.")
    ref: str = Field(
        description="What was checked out: `refs/heads/<branch>`, `refs/tags/<tag>` when "
        "detached exactly at a tag, else `HEAD`; `when.branch` is matched against the branch."
    )
    commit_time: datetime | None = Field(
        default=None,
        description="The commit's committer time in UTC; images the run builds get it as "
        "their `org.opencontainers.image.created` label.",
    )
    trigger: str = Field(
        description="The kind of event that started the run: `manual`, `push`, `tag`, "
        "`pull_request` or `api`; what `when.event` is matched against."
    )
    pipeline_path: str = Field(
        description="The pipeline file's path relative to the repository root, e.g. `.shiplog.yml`."
    )
    pipeline_digest: str = Field(
        description="`sha256:<hex>` of the pipeline file's exact bytes; the runner fails the "
        "run if the file at `commit` has another digest."
    )
    dirty: bool = Field(
        default=False,
        description="True if the checkout had uncommitted changes (`--allow-dirty`): the run "
        "works on a copy of the working tree as it was, not on `commit` alone.",
    )
    checkout: str | None = Field(
        default=None,
        description="Absolute path of the local checkout the run was queued from; runners "
        "on the same host clone from it instead of from `repository`.",
    )
    branch: str | None = Field(
        default=None,
        description="The branch `when.branch` is matched against when `ref` names none: a "
        "pull request's target branch (its `ref` is then the forge's `refs/pull/<n>/head` or "
        "`refs/merge-requests/<n>/head`); null: the branch `ref` names, if any.",
    )
    untrusted: bool = Field(
        default=False,
        description="True for a pull request from a fork: the run gets no secrets and no "
        "sandbox privileges, whatever its repository was given (docs/security.md); false in "
        "events of schema version 1.",
    )


class RunClaimed(Event):
    """A runner took the run; the stream version it appended at is the lock."""

    categories = RUN
    runner: str = Field(
        description="The runner's name: `SHIPLOG_RUNNER_NAME`, else `host:pid`; with `:cli` "
        "appended when `shiplog run` executes the run itself."
    )
    runner_version: str = Field(
        description="The runner's installed shiplog version (`unknown` if not installed)."
    )
    docker_version: str | None = Field(
        default=None, description="The Docker engine's version, e.g. `20.10.24+dfsg1`."
    )


class StepStarted(Event):
    """A step began: its container started, or its build or push began."""

    categories = RUN
    step: str = Field(description="The step's name in the pipeline file.")
    image: str = Field(
        description="The image as the step names it (an image built by this run still runs "
        "by id); `docker build` or `docker push` for build and push steps."
    )
    image_digest: str | None = Field(
        default=None,
        description="The image's registry digest for that repository if it has one, else "
        "its image id; null for build and push steps.",
    )
    commands_digest: str = Field(
        description="`sha256:<hex>` of the shell script generated from the step's commands; "
        "for build and push steps, of its `build` or `push` settings (defaults filled in) as "
        "JSON with sorted keys, no whitespace and non-ASCII as `\\uXXXX`."
    )


class StepFinished(Event):
    """A step ended, and why; the log digest lets anyone verify the stored log."""

    categories = RUN
    schema_version = 2  # 2 added reason; exit code, duration and log digest may be unknown
    step: str = Field(description="The step's name in the pipeline file.")
    exit_code: int | None = Field(
        description="0 on success. A step with commands: its container's exit code (137 if "
        "killed at its timeout). A failed build or push, or a step that could not run: 1; "
        "a build stopped at its timeout: 124. Null when nobody saw how it ended: the step "
        "was closed by another process (a cancel, a reaper) or its container went with the "
        "Docker engine."
    )
    duration_ms: int | None = Field(
        description="How long the step took, in integer milliseconds, from the runner "
        "beginning it until its log was stored, by that runner's monotonic clock; null when "
        "the step was closed by another process, which could not time it."
    )
    log_sha256: str | None = Field(
        description="Hex sha256 over the stored log lines in order, each line's UTF-8 bytes "
        "followed by `\\n` (after secret masking); `shiplog logs --verify` recomputes it. Null "
        "when the log was not sealed: a cancel closed the step while its runner may still "
        "have been writing it."
    )
    log_lines: int | None = Field(
        description="How many lines the stored log has; null when `log_sha256` is."
    )
    timed_out: bool = Field(
        default=False, description="True if the step was stopped for exceeding its `timeout`."
    )
    reason: str | None = Field(
        default=None,
        description="Why the step ended when its own work did not end it: the sandbox "
        "stopped it (`out of memory: …`, `out of processes: …`), `timed out`, it could not "
        "run (a refused privilege, secrets withheld from an untrusted run, a failed build), "
        "`cancelled`, `runner lost`, `engine restarted`, `engine unavailable`, "
        "`interrupted`, `stopped: …` (another step's failure stopped the run) or "
        "`internal error (<exception type>)`; null when it ended by itself (the exit code "
        "says how). Null in events of schema version 1.",
    )


class StepSkipped(Event):
    """A step did not run, and why (its `when` did not match, or an earlier step failed)."""

    categories = RUN
    step: str = Field(description="The step's name in the pipeline file.")
    reason: str = Field(
        description='Why it did not run: "its `when` does not match" or "an earlier step failed".'
    )


class ImageBuilt(Event):
    """A build step produced an image from fully resolved inputs."""

    categories = RUN
    schema_version = 2  # 2 added secret_mounts
    step: str = Field(description="The build step's name in the pipeline file.")
    image_id: str = Field(description="The built image's id (`sha256:<hex>`) on the engine.")
    base_images: tuple[BaseImage, ...] = Field(
        description="The images named by `FROM` in the stages built, each once, with the "
        "digests they resolved to; `scratch` and earlier stages are not images, so not listed."
    )
    dockerfile_sha256: str = Field(
        description="Hex sha256 of the Dockerfile's bytes as sent to the engine."
    )
    context_digest: str = Field(
        description="`sha256:<hex>` over the sorted lines `<path>\\0<mode>\\0<hash>\\n` of "
        "the build context as sent to the engine; defined in docs/executor.md."
    )
    build_args: dict[str, str] = Field(
        description="The build arguments given as plain values, by name; secret ones are "
        "in `secret_args`."
    )
    secret_args: tuple[str, ...] = Field(
        default=(),
        description="Names, sorted, of the build arguments taken from secrets "
        "(`{from_secret: NAME}`, refused since secrets are mounted instead); their values "
        "are never recorded.",
    )
    secret_mounts: tuple[str, ...] = Field(
        default=(),
        description="Names, sorted, of the secrets the build could read through BuildKit "
        "secret mounts (`build.secrets`); their values are never recorded nor in the image.",
    )
    target: str | None = Field(
        default=None, description="The Dockerfile stage built, or null for the last stage."
    )
    labels: dict[str, str] = Field(
        description="Every label the image was given: the `org.opencontainers.image.*` "
        "annotations, `dev.shiplog.run`, then the pipeline's own labels (which win)."
    )
    tags: tuple[str, ...] = Field(
        default=(), description="The tags the image was given, as the step lists them."
    )


class TestsReported(Event):
    """A step's JUnit reports were read: counts and the names of failing tests."""

    __test__ = False  # not a pytest test class, despite its name
    categories = RUN
    step: str = Field(description="The step whose `reports` were read.")
    passed: int = Field(description="Test cases without a failure, error or skip.")
    failed: int = Field(description="Test cases with a `<failure>` or an `<error>`.")
    skipped: int = Field(description="Test cases with a `<skipped>`.")
    failing: tuple[str, ...] = Field(
        default=(),
        description="The first 100 failing test cases as `classname.name` (reports in "
        "order of their paths, cases as listed).",
    )
    report_sha256: str = Field(
        description="Hex sha256 of the matched report files' bytes, concatenated in order "
        "of their paths."
    )


class ImagePushed(Event):
    """An image was pushed; the digest is the manifest digest the registry returned."""

    categories = RUN
    schema_version = 2  # 2 added image_id
    step: str = Field(description="The push step's name in the pipeline file.")
    repository: str = Field(
        description="The repository pushed to, without tag, e.g. `registry.example.com/acme/web`."
    )
    tag: str = Field(description="The tag pushed; each tag of a push step has its own event.")
    digest: str = Field(
        description="The manifest digest (`sha256:<hex>`) exactly as the registry returned it."
    )
    image_id: str | None = Field(
        default=None,
        description="The id (`sha256:<hex>`) of the image pushed, as this run built it; null "
        "in events of schema version 1, where the push step's tag names it.",
    )


class SbomGenerated(Event):
    """A CycloneDX SBOM was made for an image and stored under its digest."""

    categories = RUN_OR_IMAGE
    step: str | None = Field(
        default=None, description="The scan step that made it; null outside a run."
    )
    image_digest: str = Field(
        description="The id (`sha256:<hex>`, the config digest) of the image the SBOM describes."
    )
    sbom_digest: str = Field(
        description="`sha256:<hex>` of the SBOM document's exact bytes, the key it is stored under."
    )
    components: int = Field(description="How many packages the SBOM lists.")
    ecosystems: dict[str, int] = Field(
        default_factory=dict,
        description="How many of them per package type: `deb`, `apk`, `pypi`, `npm`.",
    )


GATING_LIMIT = 100
"""At most this many gating findings and skipped records are listed in a ScanCompleted."""


class ScanCompleted(Event):
    """An image's packages were matched against an advisory set."""

    categories = RUN_OR_IMAGE
    schema_version = 2  # 2 keeps the findings in a stored document, counts and gating here
    step: str | None = Field(
        default=None, description="The scan step that scanned it; null for `shiplog scan`."
    )
    image_digest: str = Field(description="The id (`sha256:<hex>`) of the image scanned.")
    sbom_digest: str = Field(description="The SBOM whose packages were matched.")
    advisory_set_digest: str = Field(
        description="`sha256:<hex>` over the sorted lines `<file>\\0<sha256 hex>\\n` of the "
        "advisory files used (zip members as `<zip>!<member>`); see docs/supplychain.md."
    )
    advisories: int = Field(description="How many advisory records of the set could be read.")
    findings_digest: str | None = Field(
        default=None,
        description="`sha256:<hex>` of the findings document (every finding, every skipped "
        "record) stored in `scan_findings`; null for a scan recorded before findings were "
        "stored apart (schema version 1), whose findings are in `findings`.",
    )
    findings_total: int = Field(default=0, description="How many findings the scan made.")
    severities: SeverityCounts = Field(
        default=SeverityCounts(), description="How many findings there are at each severity."
    )
    gating: tuple[Finding, ...] = Field(
        default=(),
        description="The findings at or above `fail_on` (none without it), by purl then "
        "advisory id: the first 100; `gating_total` counts them all.",
    )
    gating_total: int = Field(default=0, description="How many findings are at or above `fail_on`.")
    skipped: tuple[SkippedAdvisory, ...] = Field(
        default=(),
        description="Advisory records the scan could not read and did not use, by file: the "
        "first 100; `skipped_total` counts them all, the findings document lists them all.",
    )
    skipped_total: int = Field(
        default=0, description="How many advisory records could not be read."
    )
    findings: tuple[Finding, ...] = Field(
        default=(),
        description="Only in scans recorded under schema version 1 (read as version 2): every "
        "finding, by purl then advisory id; empty in newer scans, whose findings are in the "
        "document `findings_digest` names.",
    )
    fail_on: str | None = Field(
        default=None,
        description="The severity at or above which the step fails (`fail_on`), if it has one.",
    )


class ProvenanceSigned(Event):
    """An image's SLSA provenance was signed into a DSSE envelope and stored under its digest."""

    categories = RUN
    step: str = Field(description="The build step that built the image, as in its ImageBuilt.")
    image_digest: str = Field(
        description="The image id (`sha256:<hex>`) of the image the provenance is about, as "
        "in its ImageBuilt."
    )
    subject_digests: tuple[str, ...] = Field(
        description="The digests (`sha256:<hex>`) the statement names as its subject: the "
        "manifest digests the image was pushed as, else its image id; see docs/provenance.md."
    )
    envelope_digest: str = Field(
        description="`sha256:<hex>` of the DSSE envelope's stored JSON bytes, its key in the "
        "`attestations` table."
    )
    key_id: str = Field(
        description="Hex sha256 of the raw ed25519 public key that signed the envelope (the "
        "attestation key, not the ledger's), also the envelope signature's `keyid`."
    )


class RunSucceeded(Event):
    """Every step that had to run succeeded."""

    categories = RUN
    duration_ms: int = Field(
        description="How long the run took, in integer milliseconds, from the runner "
        "beginning it (checkout and services included) until its last step ended."
    )


class RunFailed(Event):
    """The run failed: a step failed, the runner was lost, or it could not start."""

    categories = RUN
    reason: str = Field(
        description="Why: `step '<name>' failed`, `runner-lost`, `could not start: …`, or "
        "`internal error (<exception type>); see the runner's log`."
    )
    step: str | None = Field(
        default=None, description="The step that failed, when the run failed for a step."
    )


class RunCancelled(Event):
    """Someone cancelled the run; its containers were stopped."""

    categories = RUN
    reason: str | None = Field(
        default=None, description="The reason given (`shiplog cancel --reason`), if any."
    )


class ImagesPruned(Event):
    """Images shiplog built were removed from a Docker engine: none in use, none built lately."""

    categories = ENGINE
    removed: tuple[str, ...] = Field(
        description="The ids (`sha256:<hex>`) of the images removed, sorted."
    )
    kept_in_use: int = Field(
        description="How many images shiplog built stayed because an environment runs them, "
        "a run built them since `recent_since`, or a container still uses them."
    )
    recent_since: datetime = Field(
        description="Images built by runs since this time (UTC) were kept, whatever else."
    )


# --- repo-<name>: what a VCS reported -------------------------------------------------


class CommitsPushed(Event):
    """Commits reached a branch of a repository, with their author times."""

    categories = REPO
    schema_version = 2  # 2 added forge, before and after (and each commit's author)
    repository: str = Field(
        description="The repository: its canonical identity `host/owner/name` for pushes a "
        "forge's webhook delivered (docs/webhooks.md); as the sender named it in version 1."
    )
    ref: str = Field(description="The ref pushed to, e.g. `refs/heads/main`.")
    commits: tuple[Commit, ...] = Field(description="The commits the push brought.")
    forge: str | None = Field(
        default=None, description="`github`, `gitea` or `gitlab`: whose webhook reported it."
    )
    before: str | None = Field(
        default=None, description="The sha the ref pointed at before the push (zeros: new)."
    )
    after: str | None = Field(default=None, description="The sha the ref points at after it.")


class WebhookRejected(Event):
    """A forge webhook was refused: its signature or token did not prove it came from the forge."""

    categories = REPO_OR_HOOKS
    forge: str = Field(description="`github`, `gitea` or `gitlab`: the endpoint it was sent to.")
    repository: str | None = Field(
        description="The repository the request claimed, as its canonical identity; null if "
        "it named none that could be read."
    )
    delivery: str | None = Field(
        default=None, description="The delivery id the request claimed, if any."
    )
    reason: str = Field(
        description="Why, e.g. `signature does not match`, `no signature`, `repository not "
        "registered`; never the body or the secret."
    )
    suppressed: int = Field(
        default=0,
        description="Rejections of this repository (or forge) not recorded since the last "
        "recorded one, because of the rate limit.",
    )


class RepositoryRegistered(Event):
    """An admin registered a repository whose webhooks may start runs (or changed it)."""

    categories = REPO
    repository: str = Field(description="The canonical identity, `host/owner/name`.")
    forge: str = Field(description="`github`, `gitea` or `gitlab`.")
    clone_url: str = Field(description="Where runners clone it from, without credentials.")
    credential: bool = Field(
        description="Whether a clone credential is stored for it (never its value)."
    )
    commit_status: bool = Field(
        description="Whether run outcomes are reported back to the forge as commit statuses."
    )
    secret_rotated: bool = Field(
        description="True when a new webhook secret was made (always on the first registration)."
    )


class RepositoryRemoved(Event):
    """An admin removed a registered repository: its webhooks are refused from now on."""

    categories = REPO
    repository: str = Field(description="The canonical identity, `host/owner/name`.")


# --- env-<name>: deployments ----------------------------------------------------------


class EvidenceItem(Value):
    """One piece of evidence a delivery decision looked at, named by its digest."""

    kind: Literal["provenance", "scan", "tests"] = Field(
        description="`provenance` (a signed statement), `scan` (the latest ScanCompleted) or "
        "`tests` (a TestsReported of the run that built the image)."
    )
    digest: str = Field(
        description="`sha256:<hex>`: the DSSE envelope's digest for provenance; the ledger "
        "leaf hash of the ScanCompleted for a scan; the reports' `report_sha256` for tests."
    )


class DeploymentRequested(Event):
    """Someone asked shiplog to deliver one image digest to a service of this environment."""

    categories = ENV
    deployment_id: str = Field(
        description="Identifies this deployment; its later events carry the same id."
    )
    service: str = Field(description="The service to deliver to.")
    image_digest: str = Field(
        description="The manifest digest (`sha256:<hex>`) to deliver; never a tag."
    )
    image: str = Field(
        description="What the swarm pulls: `<repository>@<image_digest>`, the repository a run "
        "pushed the digest to."
    )
    strategy: str = Field(description="`rolling`, `blue-green` or `canary`.")
    settings: str = Field(
        description="The service's settings as deployed, as JSON text (replicas, ports, "
        "environment, secret names, health check, strategy; docs/delivery.md); secret values "
        "never."
    )
    run_id: str | None = Field(
        default=None, description="The run whose deploy step asked, if a pipeline asked."
    )
    from_environment: str | None = Field(
        default=None, description="The environment it is promoted from, for a promotion."
    )
    previous_digest: str | None = Field(
        default=None, description="The digest the service ran here when it was asked, if any."
    )
    repository: str | None = Field(
        default=None, description="The repository the image was built from, per its provenance."
    )
    commit: str | None = Field(
        default=None, description="The commit the image was built from, per its provenance."
    )
    evidence_sha256: str = Field(
        description="Hex sha256 over the evidence's kinds and digests (docs/delivery.md); "
        "approvals name it."
    )
    evidence: tuple[EvidenceItem, ...] = Field(
        default=(), description="The evidence the gates passed on, by digest."
    )
    waived: tuple[str, ...] = Field(
        default=(),
        description="Gates not checked because an unexpired WaiverGranted covered the digest.",
    )
    approvals_required: int = Field(
        default=0, description="How many approvals the environment requires before it starts."
    )
    expires_at: datetime = Field(
        description="When it expires if it is still waiting (approvals, soak, freeze)."
    )


class PromotionRefused(Event):
    """A deployment or promotion was refused by a rule or an evidence gate; nothing was changed."""

    categories = ENV
    deployment_id: str | None = Field(
        default=None,
        description="The deployment refused, if it had been requested before a rule failed.",
    )
    service: str = Field(description="The service it was for.")
    image_digest: str = Field(description="The digest that was refused.")
    policy: str = Field(
        description="The rule or gate that refused it: `requires`, `soak`, `pinned`, "
        "`provenance`, `scan`, `tests`, `freeze`, `in-progress`."
    )
    reason: str = Field(description="Why, in a sentence naming what was found.")
    from_environment: str | None = Field(
        default=None, description="The environment it was promoted from, for a promotion."
    )
    evidence: tuple[EvidenceItem, ...] = Field(
        default=(), description="The evidence the gates looked at, by digest."
    )


class WaiverGranted(Event):
    """An approver let one digest pass one evidence gate of this environment until a time."""

    categories = ENV
    image_digest: str = Field(description="The manifest digest the waiver is for, and no other.")
    policy: Literal["provenance", "scan", "tests"] = Field(description="The gate waived.")
    reason: str = Field(description="Why, as the approver said it.")
    expires_at: datetime = Field(description="When the waiver stops counting (UTC).")


class DeploymentTimedOut(Event):
    """A requested deployment waited longer than its environment allows; it will not start."""

    categories = ENV
    deployment_id: str = Field(description="The deployment, as in its DeploymentRequested.")
    service: str = Field(description="The service it was for.")
    image_digest: str = Field(description="The digest it would have delivered.")
    waited_ms: int = Field(description="How long it waited, in integer milliseconds.")
    waiting_for: tuple[str, ...] = Field(
        default=(),
        description="What it still waited for: `approvals`, `soak`, `freeze`, `allow`.",
    )


class DeploymentStarted(Event):
    """A rollout of an image to a service of this environment began."""

    categories = ENV
    schema_version = 3  # 2 added started_at, repository and commit; 3 previous_digest, evidence
    deployment_id: str = Field(
        description="Identifies this rollout; its later events carry the same id."
    )
    service: str = Field(description="The service rolled out to.")
    image_digest: str = Field(description="The digest of the image rolled out.")
    strategy: str = Field(
        default="rolling", description="How the service is moved to the image, e.g. `rolling`."
    )
    run_id: str | None = Field(
        default=None, description="The id of the run the rollout came from, if any."
    )
    started_at: datetime | None = Field(
        default=None,
        description="When the rollout began, as the reporting tool says (UTC); null: the "
        "event's `recorded_at` stands for it.",
    )
    repository: str | None = Field(
        default=None,
        description="The repository the image was built from, as the reporting tool says; "
        "null: known from the run that pushed the image, if any.",
    )
    commit: str | None = Field(
        default=None,
        description="The full sha of the commit the image was built from, as the reporting "
        "tool says; null: known from the run that pushed the image, if any.",
    )
    previous_digest: str | None = Field(
        default=None,
        description="The digest the service ran before this rollout, when shiplog delivered it.",
    )
    evidence_sha256: str | None = Field(
        default=None,
        description="The evidence hash of its DeploymentRequested, when shiplog delivered it.",
    )


class DeploymentSucceeded(Event):
    """A rollout finished and the service runs the new image."""

    categories = ENV
    schema_version = 2  # 2 added finished_at
    deployment_id: str = Field(description="The rollout, as in its DeploymentStarted.")
    service: str = Field(description="The service rolled out to.")
    image_digest: str = Field(description="The digest of the image the service now runs.")
    finished_at: datetime | None = Field(
        default=None,
        description="When the rollout ended, as the reporting tool says (UTC); null: the "
        "event's `recorded_at` stands for it.",
    )


class DeploymentFailed(Event):
    """A rollout did not complete."""

    categories = ENV
    schema_version = 2  # 2 added finished_at
    deployment_id: str = Field(description="The rollout, as in its DeploymentStarted.")
    service: str = Field(description="The service rolled out to.")
    reason: str = Field(description="Why the rollout did not complete.")
    finished_at: datetime | None = Field(
        default=None,
        description="When the rollout ended, as the reporting tool says (UTC); null: the "
        "event's `recorded_at` stands for it.",
    )


class RolledBack(Event):
    """A service was returned to an earlier image."""

    categories = ENV
    schema_version = 3  # 2 added finished_at; 3 from_digest
    deployment_id: str = Field(
        description="The rollout this rollback belongs to, as in its DeploymentStarted."
    )
    service: str = Field(description="The service rolled back.")
    image_digest: str = Field(description="The digest of the earlier image the service runs again.")
    reason: str | None = Field(default=None, description="Why it was rolled back, if said.")
    finished_at: datetime | None = Field(
        default=None,
        description="When the service ran the earlier image again, as the reporting tool "
        "says (UTC); null: the event's `recorded_at` stands for it.",
    )
    from_digest: str | None = Field(
        default=None, description="The digest the service ran before the rollback, if known."
    )


Colour = Literal["blue", "green"]


class TrafficSwitched(Event):
    """A blue/green or canary service's proxy now sends all traffic to one colour."""

    categories = ENV
    deployment_id: str = Field(description="The deployment (or rollback's deployment) it ends.")
    service: str = Field(description="The service.")
    to_colour: Colour = Field(description="The colour that gets the traffic now.")
    image_digest: str = Field(description="The digest that colour runs.")
    from_colour: Colour | None = Field(
        default=None, description="The colour that had it, kept as a standby; null at first."
    )
    from_digest: str | None = Field(default=None, description="The digest that colour runs.")


class StandbyRetired(Event):
    """The previous colour of a blue/green or canary service, kept for rollback, was stopped."""

    categories = ENV
    service: str = Field(description="The service.")
    colour: Colour = Field(description="The colour scaled to zero.")
    image_digest: str = Field(description="The digest it ran.")


class CanaryStepStarted(Event):
    """A canary's weight was raised: this share of the traffic now goes to the new digest."""

    categories = ENV
    deployment_id: str = Field(description="The canary deployment.")
    service: str = Field(description="The service.")
    step: int = Field(description="The step, counting from 1.")
    weight: int = Field(description="The percentage of the traffic the new digest gets (1-100).")
    pause_ms: int = Field(description="How long the step is held and measured, in milliseconds.")


class ProbeResult(Value):
    """One HTTP probe of a canary, through the proxy's preview entry."""

    path: str = Field(description="The path requested.")
    status: int | None = Field(description="The HTTP status answered; null if none.")


class AnalysisMeasured(Event):
    """One measurement of a canary step: the new digest's traffic, errors and latency, judged."""

    categories = ENV
    deployment_id: str = Field(description="The canary deployment.")
    service: str = Field(description="The service.")
    step: int = Field(description="The step measured, counting from 1.")
    weight: int = Field(description="Its weight, in percent.")
    requests: int = Field(description="Responses the new digest's servers gave in the interval.")
    errors: int = Field(description="Of those, 5xx responses.")
    error_rate_bp: int = Field(
        description="errors / requests in basis points (1/100 of a percent); 0 without requests."
    )
    latency_ms: int | None = Field(
        default=None, description="The servers' mean response time, in ms; null if unknown."
    )
    probes: tuple[ProbeResult, ...] = Field(default=(), description="The probes and answers.")
    passed: bool = Field(description="True if every threshold held.")
    reasons: tuple[str, ...] = Field(
        default=(), description="Which thresholds did not hold, each with its figures."
    )
    failures: int = Field(description="Failed measurements of this rollout so far.")


class CanaryPromoted(Event):
    """Every step of a canary passed its analysis: the new digest gets all the traffic."""

    categories = ENV
    deployment_id: str = Field(description="The canary deployment.")
    service: str = Field(description="The service.")
    image_digest: str = Field(description="The digest promoted.")
    steps: int = Field(description="How many steps it went through.")


class CanaryAborted(Event):
    """A canary failed its analysis (or could not go on): traffic went back to the old digest."""

    categories = ENV
    deployment_id: str = Field(description="The canary deployment.")
    service: str = Field(description="The service.")
    image_digest: str = Field(description="The digest that was aborted.")
    step: int = Field(description="The step at which it was aborted, counting from 1.")
    reason: str = Field(description="Why, with the figures.")


class RollbackFailed(Event):
    """Someone asked to return a service to an earlier digest and the swarm did not get there."""

    categories = ENV
    service: str = Field(description="The service.")
    image_digest: str = Field(description="The earlier digest it was to return to.")
    from_digest: str = Field(description="The digest it ran when the rollback began.")
    reason: str = Field(description="What the orchestrator reported.")


class EnvironmentPinned(Event):
    """A service of this environment is held at one digest: nothing else is deployed to it."""

    categories = ENV
    service: str = Field(description="The service held.")
    image_digest: str = Field(description="The only digest it may receive until unpinned.")
    reason: str = Field(description="Why, e.g. the rollback's reason.")


class EnvironmentUnpinned(Event):
    """A pinned service may receive other digests again."""

    categories = ENV
    service: str = Field(description="The service released.")
    reason: str = Field(description="Why, as the person who unpinned it said.")


class SwarmState(Value):
    """A service as the swarm runs it, or as the ledger says it should run."""

    swarm_service: str = Field(description="The service's name on the swarm.")
    image_digest: str | None = Field(
        default=None, description="The digest its image is pinned to; null if not by digest."
    )
    replicas: int | None = Field(default=None, description="Its replicas; null if global.")
    labels: dict[str, str] = Field(
        default_factory=dict, description="Its `dev.shiplog.*` labels (environment, service...)."
    )
    weights: dict[str, dict[str, int]] | None = Field(
        default=None,
        description="For a blue/green or canary service, what its proxy gives each colour "
        "(0-256), per backend (`app`, `preview`): a colour's servers under the colour's name, "
        "each server under its own (`green2`) where they differ; `{}` when the proxy does not "
        "answer; null for other services.",
    )


class DriftDetected(Event):
    """The swarm runs a service otherwise than the ledger says it should, or runs one unknown."""

    categories = ENV
    schema_version = 2  # 2 added the proxy's weights to observed and intended
    service: str = Field(
        description="The service as the environment names it; for a service the ledger does "
        "not know, its name on the swarm."
    )
    differences: tuple[str, ...] = Field(
        description="What differs: `missing`, `image`, `replicas`, `labels`, `weights` (what "
        "the proxy serves), `unknown`."
    )
    observed: SwarmState | None = Field(
        default=None, description="What the swarm runs; null when the service is missing."
    )
    intended: SwarmState | None = Field(
        default=None, description="What the ledger says should run; null for an unknown service."
    )


class DriftResolved(Event):
    """A service the reconciler had found drifted runs as the ledger says again (or is gone)."""

    categories = ENV
    service: str = Field(description="The service, as in its DriftDetected.")
    how: str = Field(
        description="`matches`: the swarm runs it as intended; `gone`: an unknown service "
        "no longer runs."
    )


class ApprovalGranted(Event):
    """Someone approved a deployment to this protected environment: one digest, one evidence."""

    categories = ENV
    schema_version = 2  # 2 added the deployment, its digest and evidence hash; run_id optional
    run_id: str | None = Field(
        default=None,
        description="The run the deployment came from, if a run asked (version 1 approvals "
        "name only this).",
    )
    service: str | None = Field(
        default=None, description="The service the approval is for, if only one."
    )
    deployment_id: str | None = Field(
        default=None, description="The deployment approved, as in its DeploymentRequested."
    )
    image_digest: str | None = Field(
        default=None, description="The digest the approver saw and approves, and no other."
    )
    evidence_sha256: str | None = Field(
        default=None, description="The evidence hash the approver saw (DeploymentRequested's)."
    )
    comment: str | None = Field(default=None, description="What the approver said, if anything.")


class ApprovalRejected(Event):
    """Someone rejected a deployment that waited for approval; it will not start."""

    categories = ENV
    deployment_id: str = Field(description="The deployment rejected.")
    service: str = Field(description="The service it was for.")
    image_digest: str = Field(description="The digest it would have delivered.")
    evidence_sha256: str = Field(description="The evidence hash the deployment carried.")
    reason: str = Field(description="Why, as the approver said it.")


# --- incident-<id> ----------------------------------------------------------------------


class IncidentOpened(Event):
    """A production incident began, possibly caused by a known deployment."""

    categories = INCIDENT
    schema_version = 2  # 2 added opened_at
    environment: str = Field(
        description="The environment affected (the name in its `env-<name>` stream)."
    )
    service: str = Field(description="The service affected.")
    summary: str = Field(description="What went wrong, in a line.")
    caused_by_deployment: str | None = Field(
        default=None, description="The `deployment_id` of the rollout that caused it, if known."
    )
    opened_at: datetime | None = Field(
        default=None,
        description="When the incident began, as the reporting tool says (UTC); null: the "
        "event's `recorded_at` stands for it.",
    )


class IncidentResolved(Event):
    """A production incident ended."""

    categories = INCIDENT
    schema_version = 2  # 2 added resolved_at
    resolution: str | None = Field(default=None, description="How it was resolved, if said.")
    resolved_at: datetime | None = Field(
        default=None,
        description="When the incident ended, as the reporting tool says (UTC); null: the "
        "event's `recorded_at` stands for it.",
    )


# --- repro-<id> -------------------------------------------------------------------------


class FileDifference(Value):
    """One path whose entry differs between an original image and its rebuild (times ignored)."""

    path: str = Field(description="The absolute path in the image's file system, e.g. `/etc/x`.")
    change: Literal["added", "removed", "changed"] = Field(
        description="`added`: only the rebuild has it; `removed`: only the original has it; "
        "`changed`: both have it and `aspects` say how they differ."
    )
    aspects: tuple[str, ...] = Field(
        default=(),
        description="For `changed`, what differs, in this order: `type`, `mode`, `owner`, "
        "`size`, `sha256`, `link` (a link's target).",
    )
    original: str | None = Field(
        default=None,
        description="The original's entry as `<type> <mode> <uid>:<gid> <size> <sha256|link>`; "
        "null if it has none.",
    )
    rebuilt: str | None = Field(
        default=None, description="The rebuild's entry in the same form; null if it has none."
    )


class ReproductionRequested(Event):
    """Someone asked to rebuild a past image from the inputs its run recorded."""

    categories = REPRO
    image_digest: str = Field(
        description="The image as asked for: its image id, or the manifest digest it was "
        "pushed under (`sha256:<hex>`)."
    )
    image_id: str = Field(
        description="The image id (`sha256:<hex>`) the run's ImageBuilt recorded."
    )
    run_id: str = Field(description="The id of the run whose recorded inputs the rebuild uses.")
    step: str = Field(description="The build step of that run that built the image.")
    source_date_epoch: int | None = Field(
        default=None,
        description="SOURCE_DATE_EPOCH: the commit's time in seconds since 1970 "
        "(`RunQueued.commit_time`), set as the time of every file of the rebuild's checkout; "
        "null if the run recorded no commit time.",
    )


class ReproductionCompleted(Event):
    """A rebuild finished: identical, same content, differs (with the diff) or impossible."""

    categories = REPRO
    image_digest: str = Field(description="The image as asked for, as in ReproductionRequested.")
    image_id: str = Field(description="The original image's id, as its ImageBuilt recorded it.")
    verdict: Literal["identical", "same-content", "differs", "cannot-reproduce"] = Field(
        description="`identical` (the same image id, i.e. config digest), `same-content` "
        "(every file and setting the same, times aside), `differs` (see `differences` and "
        "`config_differences`) or `cannot-reproduce` (see `reason`)."
    )
    rebuilt_image_id: str | None = Field(
        default=None, description="The rebuild's image id; null if nothing was rebuilt."
    )
    layers_identical: bool | None = Field(
        default=None,
        description="Whether the layer diff ids (the config's `rootfs.diff_ids`) are the same, "
        "in order; null if nothing was compared.",
    )
    compared: tuple[str, ...] = Field(
        default=(),
        description="What was compared: `config-digest`, `layer-diff-ids`, `settings`, `files` "
        "(manifest digests are not: the rebuild is never pushed).",
    )
    files_compared: int = Field(
        default=0, description="How many paths the two file systems hold between them."
    )
    differences: tuple[FileDifference, ...] = Field(
        default=(),
        description="The paths that differ, sorted by path (times are never compared); the "
        "first 500 at most, and fewer if their text would pass 256 KiB.",
    )
    differences_total: int = Field(
        default=0,
        description="How many paths differ in all; more than `differences` lists if cut short.",
    )
    config_differences: tuple[str, ...] = Field(
        default=(),
        description="The image settings that differ, by their config name (`Cmd`, `Env`, "
        "`Labels`, ...), sorted.",
    )
    reason: str | None = Field(
        default=None, description="Why the image could not be rebuilt, for `cannot-reproduce`."
    )
    duration_ms: int = Field(
        default=0,
        description="How long the reproduction took, in integer milliseconds, from the "
        "request until the verdict.",
    )


# --- notify-<target>: notifications ---------------------------------------------------


class NotificationTargetAdded(Event):
    """An admin registered (or changed) a place notifications are delivered to."""

    categories = NOTIFY
    target: str = Field(description="The target's name, as rules name it.")
    kind: str = Field(
        description="`slack` (an incoming webhook), `webhook` (Standard Webhooks JSON) or "
        "`commit-status` (a forge's commit status API)."
    )
    origin: str = Field(
        description="The URL's scheme, host and port only: its path and query can hold a "
        "secret (a Slack webhook URL is one)."
    )
    signed: bool = Field(description="Whether deliveries are signed (a `whsec_` secret is set).")
    allow_private: bool = Field(
        description="Whether loopback and private addresses were explicitly allowed."
    )


class NotificationTargetRemoved(Event):
    """An admin removed a notification target; its pending deliveries are dropped."""

    categories = NOTIFY
    target: str = Field(description="The target's name.")


class NotificationTargetDisabled(Event):
    """A target was disabled: its receiver said it is gone (HTTP 410), or an admin did."""

    categories = NOTIFY
    target: str = Field(description="The target's name.")
    reason: str = Field(description="Why, e.g. `the receiver answered 410 Gone`.")


class NotificationSent(Event):
    """A notification reached its target (the receiver answered 2xx)."""

    categories = NOTIFY
    target: str = Field(description="The target's name.")
    message_id: str = Field(
        description="The message's id, the same on every attempt (`webhook-id` for webhooks)."
    )
    rule: str | None = Field(
        default=None, description="The rule that made it, or null for a `notify` step's."
    )
    subject: str = Field(description="What it is about, e.g. `run <id>`, `env production`.")
    attempt: int = Field(description="Which attempt succeeded, from 1.")
    status: int = Field(description="The HTTP status the receiver answered.")
    body_sha256: str = Field(description="Hex sha256 of the exact body sent.")
    items: int = Field(
        default=1, description="How many notifications the message carries (repeats grouped)."
    )


class NotificationFailed(Event):
    """An attempt to deliver a notification failed; it is retried unless `final`."""

    categories = NOTIFY
    target: str = Field(description="The target's name.")
    message_id: str = Field(description="The message's id, the same on every attempt.")
    rule: str | None = Field(
        default=None, description="The rule that made it, or null for a `notify` step's."
    )
    subject: str = Field(description="What it is about, e.g. `run <id>`, `env production`.")
    attempt: int = Field(description="Which attempt failed, from 1.")
    status: int | None = Field(
        description="The HTTP status the receiver answered; null if none (refused, time-out)."
    )
    body_sha256: str = Field(description="Hex sha256 of the exact body sent.")
    reason: str = Field(
        description="What went wrong, e.g. `HTTP 503`, `timed out after 10s`; never the URL."
    )
    final: bool = Field(
        description="True when no attempt follows (attempts used up, 4xx, target gone)."
    )
    retry_at: datetime | None = Field(
        default=None, description="When the next attempt is due, unless `final`."
    )


# --- imported CDEvents: what other delivery tools reported (app/cdevents) ---------------
# Runs shiplog did not execute never go to `run-*`: they get `extrun-<id>` streams.

EXTRUN = ("extrun",)
ARTIFACT = ("artifact",)
ToolSource = Annotated[
    str, Field(description="The tool's source URI for the run (the subject's source).")
]
ToolRun = Annotated[str, Field(description="The run's id in that tool (the CDEvent subject id).")]
PipelineName = Annotated[str | None, Field(description="The pipeline's name, if given.")]
RunUri = Annotated[str | None, Field(description="Where the tool shows the run, if given.")]


class ExternalRunQueued(Event):
    """Another tool queued a pipeline run (a CDEvents pipelinerun.queued)."""

    categories = EXTRUN
    source: ToolSource
    run: ToolRun
    pipeline_name: PipelineName = None
    uri: RunUri = None
    queued_at: datetime = Field(description="When it was queued: the CDEvent's timestamp (UTC).")


class ExternalRunStarted(Event):
    """Another tool started a pipeline run (a CDEvents pipelinerun.started)."""

    categories = EXTRUN
    source: ToolSource
    run: ToolRun
    pipeline_name: str = Field(description="The pipeline's name.")
    uri: str = Field(description="Where the tool shows the run.")
    started_at: datetime = Field(description="When it started: the CDEvent's timestamp (UTC).")


class ExternalRunFinished(Event):
    """Another tool's pipeline run ended (a CDEvents pipelinerun.finished)."""

    categories = EXTRUN
    source: ToolSource
    run: ToolRun
    pipeline_name: PipelineName = None
    uri: RunUri = None
    outcome: str | None = Field(
        default=None, description="`success`, `failure`, `cancel` or `error`, if given."
    )
    errors: str | None = Field(default=None, description="What went wrong, if the tool says.")
    finished_at: datetime = Field(description="When it ended: the CDEvent's timestamp (UTC).")


class ArtifactPublished(Event):
    """Another tool published an artifact (a CDEvents artifact.published)."""

    categories = ARTIFACT
    source: str = Field(description="The tool's source URI for the artifact (subject source).")
    artifact_id: str = Field(description="The artifact's id as given, a package URL (purl).")
    digest: str | None = Field(
        default=None,
        description="`sha256:<hex>` when the purl's version is such a digest (e.g. `pkg:oci`).",
    )
    repository: str | None = Field(
        default=None, description="The purl's `repository_url` qualifier, if it has one."
    )
    sbom_uri: str | None = Field(default=None, description="Where its SBOM is, if given.")
    user: str | None = Field(default=None, description="Who published it, if given.")
    published_at: datetime = Field(description="When: the CDEvent's timestamp (UTC).")


class ChangeMerged(Event):
    """A change (pull or merge request) was merged, as a CDEvents change.merged reported it."""

    categories = REPO
    source: str = Field(description="The tool's source URI for the change (subject source).")
    change: str = Field(description="The change's id in that tool (the CDEvent subject id).")
    repository: str = Field(description="The repository's id as the CDEvent names it.")
    merged_at: datetime = Field(description="When: the CDEvent's timestamp (UTC).")


CDEVENT = ("cdevent",)


class CDEventImported(Event):
    """Another tool sent a valid CDEvent that shiplog has no event of its own for; kept whole."""

    categories = CDEVENT
    cdevent_type: str = Field(
        description="The CDEvent's type as sent, e.g. `dev.cdevents.testcaserun.finished.0.3.0`."
    )
    subject_id: str = Field(description="The CDEvent subject's id.")
    subject_source: str = Field(
        description="The CDEvent subject's source, else the CloudEvent's `source`."
    )
    timestamp: datetime = Field(description="The CDEvent's `context.timestamp` (UTC).")
    source: str = Field(description="The CloudEvent's `source`.")
    id: str = Field(description="The CloudEvent's `id`.")
    cdevent_document: str = Field(
        description="The whole CDEvent (the CloudEvent's `data`) as JSON text, members in the "
        "order received; the CDEvents export sends it back unchanged. (Text, not an object: "
        "its numbers stay exactly as sent.)"
    )


# --- access-<actor> and token-<name>: who may act, and who was refused --------------------

ACCESS = ("access",)
TOKEN = ("token",)


class AccessDenied(Event):
    """A write was refused: its caller had no credential, a bad one, or not the role it needs."""

    categories = ACCESS
    action: str = Field(
        description="What was refused: the method and path, e.g. `POST /api/deployments`."
    )
    reason: str = Field(
        description="Why, in a sentence: the roles needed, or what was wrong with the credential."
    )
    credential: str = Field(
        description="How the caller was identified: `token`, `session`, or `none` (no good "
        "credential)."
    )
    needed: tuple[str, ...] = Field(
        default=(),
        description="The roles of which the action needs one (empty: a credential problem).",
    )
    client: str | None = Field(default=None, description="The client's network address, if known.")
    suppressed: int = Field(
        default=0,
        description="Refusals of this actor not recorded one by one since its previous "
        "AccessDenied (the rate limit): a flood is counted, it does not fill the ledger.",
    )


class TokenCreated(Event):
    """An API token was made: its name (the actor it records), roles and expiry; not its secret."""

    categories = TOKEN
    token_id: str = Field(description="The token's id (a uuid), as `shiplog token list` shows it.")
    name: str = Field(description="The token's name: the actor of everything done with it.")
    roles: tuple[str, ...] = Field(description="The roles it holds, e.g. `deployer`.")
    expires_at: datetime | None = Field(
        default=None, description="When it stops working (UTC); null: until revoked."
    )


class TokenRevoked(Event):
    """An API token was revoked: it, and every web session signed in with it, stop working."""

    categories = TOKEN
    token_id: str = Field(description="The revoked token's id.")
    name: str = Field(description="The revoked token's name.")


CATALOGUE = Catalogue(
    cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, Event) and cls is not Event
)


SEVERITY_ORDER = ("critical", "high", "medium", "low")


@CATALOGUE.upcaster("ScanCompleted", from_version=1)
def _scan_findings_inline(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 listed every finding; version 2 counts them and names the gating ones.

    The findings stay in `findings` (there is no stored document to name), so nothing
    recorded is lost; counts and gating findings are computed from them.
    """
    findings = list(data.get("findings") or ())
    counts = {name: 0 for name in (*SEVERITY_ORDER, "unknown")}
    for finding in findings:
        counts[finding.get("severity") or "unknown"] += 1
    fail_on = data.get("fail_on")
    gating = [
        f
        for f in findings
        if fail_on in SEVERITY_ORDER
        and f.get("severity") in SEVERITY_ORDER
        and SEVERITY_ORDER.index(f["severity"]) <= SEVERITY_ORDER.index(fail_on)
    ]
    return {
        **data,
        "findings_digest": None,
        "findings_total": len(findings),
        "severities": counts,
        "gating": gating[:GATING_LIMIT],
        "gating_total": len(gating),
    }


# Version 2 of these only added optional fields (times, a deployment's repository and
# commit, a push's image id, a run's branch and trust, a push's forge and shas, why a
# step ended, a build's secret mounts) or let a field be null (a step's exit code), so a
# version 1 payload reads as version 2 unchanged; so did version 3 of DeploymentStarted
# (previous digest, evidence) and RolledBack (from).
for _name in (
    "RunQueued",
    "CommitsPushed",
    "StepFinished",
    "ImageBuilt",
    "ImagePushed",
    "DeploymentStarted",
    "DeploymentSucceeded",
    "DeploymentFailed",
    "RolledBack",
    "IncidentOpened",
    "IncidentResolved",
):
    CATALOGUE.additive(_name, from_version=1)
for _name in ("DeploymentStarted", "RolledBack"):
    CATALOGUE.additive(_name, from_version=2)
# DriftDetected 2 added the proxy's weights (optional) to observed and intended: 1 reads as 2.
CATALOGUE.additive("DriftDetected", from_version=1)
# ApprovalGranted 2 added optional fields and made run_id optional: 1 reads as 2.
CATALOGUE.additive("ApprovalGranted", from_version=1)
