"""CloudEvents carrying CDEvents, checked and turned into what shiplog records (pure).

`parse` checks a structured-mode CloudEvent (JSON) and its CDEvent `data` against
the official schema of its type (any of the 45 types of CDEvents 0.5.1), and `plan`
maps it to shiplog's vocabulary: the types shiplog understands to its own events,
every other one to a CDEventImported that keeps the CDEvent whole. Both raise Refused
listing every problem with its JSON path. The identity of an
imported CloudEvent is `key(source, id)`: a uuid5, from which the ids of the
events it becomes are derived, so a resend is recognised. docs/cdevents.md has
the tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from packageurl import PackageURL

from app.cdevents.schemas import SchemaProblem, supported_types, validate
from app.inputs import TimeOutOfRange, printable, text_problem, utc_moment
from app.repo_identity import NotARepository, canonical_repository
from events.catalogue import Event
from events.errors import InvalidStreamName
from events.streams import stream_name
from events.vocabulary import (
    ArtifactPublished,
    CDEventImported,
    ChangeMerged,
    ExternalRunFinished,
    ExternalRunQueued,
    ExternalRunStarted,
    RolledBack,
)

NAMESPACE = uuid5(NAMESPACE_URL, "https://shiplog.dev/api/cdevents")
CLOUDEVENTS_VERSION = "1.0"
PREFIX = "dev.cdevents."
MAX_DEPTH = 64
_DIGEST_HEX = frozenset("0123456789abcdef")

QUEUED = "dev.cdevents.pipelinerun.queued.0.3.0"
STARTED = "dev.cdevents.pipelinerun.started.0.3.0"
FINISHED = "dev.cdevents.pipelinerun.finished.0.3.0"
PUBLISHED = "dev.cdevents.artifact.published.0.3.0"
DEPLOYED = "dev.cdevents.service.deployed.0.3.0"
UPGRADED = "dev.cdevents.service.upgraded.0.3.0"
ROLLEDBACK = "dev.cdevents.service.rolledback.0.3.0"
DETECTED = "dev.cdevents.incident.detected.0.3.0"
RESOLVED = "dev.cdevents.incident.resolved.0.3.0"
MERGED = "dev.cdevents.change.merged.0.3.0"
MAPPED_TYPES: tuple[str, ...] = (
    QUEUED,
    STARTED,
    FINISHED,
    PUBLISHED,
    DEPLOYED,
    UPGRADED,
    ROLLEDBACK,
    DETECTED,
    RESOLVED,
    MERGED,
)


class Refused(ValueError):
    """The CloudEvent cannot be imported; `problems` say where (JSON path) and why."""

    def __init__(self, problems: list[SchemaProblem], kind: str = "cdevents") -> None:
        self.problems = problems
        self.kind = kind
        super().__init__("; ".join(str(problem) for problem in problems))


@dataclass(frozen=True)
class CloudEvent:
    """A checked CloudEvent: its identity, type, time and CDEvent (`data`)."""

    id: str
    source: str
    type: str
    timestamp: datetime
    data: dict[str, Any]

    @property
    def key(self) -> str:
        """The uuid5 of source and id that identifies this CloudEvent, as text."""
        return key(self.source, self.id)

    @property
    def subject(self) -> dict[str, Any]:
        """The CDEvent's subject."""
        subject: dict[str, Any] = self.data["subject"]
        return subject

    @property
    def content(self) -> dict[str, Any]:
        """The CDEvent's subject content."""
        content: dict[str, Any] = self.subject["content"]
        return content

    @property
    def subject_source(self) -> str:
        """The subject's source, which defaults to the event's source."""
        return str(self.subject.get("source") or self.source)


@dataclass(frozen=True)
class DeploymentPlan:
    """A service now runs an image: recorded as a succeeded deployment."""

    deployment_id: str
    environment: str
    service: str
    image_digest: str
    at: datetime


@dataclass(frozen=True)
class IncidentPlan:
    """An incident detected (opened) or resolved."""

    incident_id: str
    environment: str
    resolved: bool
    at: datetime
    service: str | None = None
    description: str | None = None
    subject: str = ""  # the incident's id in the reporting tool

    @property
    def summary(self) -> str:
        """The description, else a line naming the incident as the tool does."""
        return self.description or f"incident {self.subject!r} detected (no description given)"


@dataclass(frozen=True)
class Append:
    """Events to record in one stream, their ids derived from `id_key`."""

    stream: str
    events: tuple[Event, ...]
    id_key: str


Plan = DeploymentPlan | IncidentPlan | Append


def key(source: str, event_id: str) -> str:
    """The uuid5 identifying the CloudEvent `event_id` from `source`, as text."""
    return str(uuid5(NAMESPACE, f"{source}\n{event_id}"))


def subject_key(source: str, subject_id: str) -> str:
    """The uuid5 naming the stream of subject `subject_id` from `source` (run, incident...)."""
    return str(uuid5(NAMESPACE, f"subject\n{source}\n{subject_id}"))


def imported_types() -> list[str]:
    """Every CDEvent type shiplog records: each type of CDEvents 0.5.1, sorted."""
    return supported_types()


def from_binary(headers: Mapping[str, str], data: Any, content_type: str | None) -> dict[str, Any]:
    """A binary-mode CloudEvent (`ce-*` headers, the CDEvent as body) in structured form.

    `datacontenttype` is the request's Content-Type; without one (it is optional in
    CloudEvents) the data is taken as JSON.
    """
    envelope: dict[str, Any] = {"data": data}
    if content_type:
        envelope["datacontenttype"] = content_type
    for attribute in ("specversion", "id", "source", "type", "time", "subject"):
        value = headers.get(f"ce-{attribute}")
        if value is not None:
            envelope[attribute] = value
    return envelope


def parse(body: Any) -> CloudEvent:
    """Check a structured-mode CloudEvent and its CDEvent; Refused if anything is wrong."""
    if not isinstance(body, dict):
        raise Refused([SchemaProblem("$", "expected a CloudEvent: a JSON object")])
    if _depth(body) > MAX_DEPTH:
        raise Refused([SchemaProblem("$", f"nested more than {MAX_DEPTH} levels deep")])
    problems = [*_envelope_problems(body)]
    if problems:
        raise Refused(problems)
    if body["type"] not in imported_types():
        message = (
            f"type {body['type']!r} is not a CDEvents 0.5.1 type; the 45 types of that "
            "release are accepted (see `supported`)"
        )
        raise Refused([SchemaProblem("$.type", message)], kind="unsupported_type")
    data = body["data"]
    problems = validate(body["type"], data, "$.data")
    if problems:
        raise Refused(problems)
    context = data["context"]
    for name, attribute in (("id", "id"), ("source", "source"), ("type", "type")):
        if context[name] != body[attribute]:
            message = (
                f"{context[name]!r} differs from the CloudEvent's {attribute} {body[attribute]!r}"
            )
            problems.append(SchemaProblem(f"$.data.context.{name}", message))
    timestamp = _timestamp(context["timestamp"], "$.data.context.timestamp", problems)
    problems.extend(_text_problems(body))
    if problems or timestamp is None:
        raise Refused(problems)
    return CloudEvent(body["id"], body["source"], body["type"], timestamp, data)


def _text_problems(document: Any, path: str = "$") -> list[SchemaProblem]:
    """Each name or text in `document` PostgreSQL cannot store (NUL, lone surrogates), by path."""
    problems: list[SchemaProblem] = []
    pending: list[tuple[str, Any]] = [(path, document)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                problems.append(SchemaProblem(where, f"text {problem}"))
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key)
                if problem is not None:
                    problems.append(SchemaProblem(f"{where}.{printable(key)}", f"name {problem}"))
                pending.append((f"{where}.{printable(key)}", item))
        elif isinstance(value, list):
            pending.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
    return sorted(problems, key=lambda problem: problem.path)


def _depth(document: Any) -> int:
    """How deeply `document` nests objects and arrays (walked without recursion)."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
    return deepest


def _envelope_problems(body: dict[str, Any]) -> list[SchemaProblem]:
    problems = []
    if body.get("specversion") != CLOUDEVENTS_VERSION:
        message = f"must be {CLOUDEVENTS_VERSION!r} (a CloudEvent in structured mode)"
        problems.append(SchemaProblem("$.specversion", message))
    for attribute in ("id", "source", "type"):
        value = body.get(attribute)
        if not isinstance(value, str) or not value:
            problems.append(SchemaProblem(f"$.{attribute}", "required: a non-empty string"))
    content_type = body.get("datacontenttype", "application/json")
    media = content_type.split(";")[0].strip().lower() if isinstance(content_type, str) else ""
    if not (media in ("application/json", "text/json") or media.endswith("+json")):
        problems.append(
            SchemaProblem("$.datacontenttype", "must be JSON (application/json or a +json type)")
        )
    if "data_base64" in body:
        problems.append(
            SchemaProblem("$.data_base64", "binary data is not a CDEvent; send JSON `data`")
        )
    if not isinstance(body.get("data"), dict):
        problems.append(SchemaProblem("$.data", "required: the CDEvent, a JSON object"))
    if "time" in body:  # optional, but an RFC 3339 time when given (CloudEvents 1.0)
        if isinstance(body["time"], str):
            _timestamp(body["time"], "$.time", problems)
        else:
            problems.append(SchemaProblem("$.time", "must be an RFC 3339 date-time string"))
    return problems


def _timestamp(text: str, path: str, problems: list[SchemaProblem]) -> datetime | None:
    """`text` as an aware UTC time, or None with a problem added."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        problems.append(SchemaProblem(path, f"{text!r} is not an RFC 3339 date-time"))
        return None
    if moment.tzinfo is None:
        problems.append(
            SchemaProblem(path, f"{text!r} has no time zone offset (RFC 3339 needs one)")
        )
        return None
    try:
        return utc_moment(moment)
    except TimeOutOfRange as error:
        problems.append(SchemaProblem(path, str(error)))
        return None


def _repository_identity(repository: str, source: object) -> str:
    """The canonical identity of a CDEvent's repository (its id, on its source's host).

    A repository named as shiplog cannot place on a forge (no host, no URL) keeps the
    CDEvent's id as its stream's id.
    """
    host = source if isinstance(source, str) and source else None
    try:
        return canonical_repository(repository, host=host)
    except NotARepository:
        return repository


def _stream(category_name: str, ident: str, path: str) -> str:
    try:
        return stream_name(category_name, ident)
    except InvalidStreamName as error:
        raise Refused(
            [SchemaProblem(path, f"not usable as a shiplog stream id: {error}")]
        ) from None


def image_digest(artifact_id: str, path: str) -> str:
    """The `sha256:<hex>` digest an OCI purl names as its version, else Refused at `path`."""
    try:
        purl = PackageURL.from_string(artifact_id)
    except ValueError as error:
        raise Refused([SchemaProblem(path, f"not a package URL (purl): {error}")]) from None
    version = purl.version or ""
    algorithm, _, hex_digest = version.partition(":")
    if algorithm != "sha256" or len(hex_digest) != 64 or not set(hex_digest) <= _DIGEST_HEX:
        message = "expected an image purl with its digest, e.g. pkg:oci/web@sha256%3A<64 hex>"
        raise Refused([SchemaProblem(path, message)])
    return version


def plan(event: CloudEvent, owner: str | None = None) -> Plan:
    """What shiplog records for a checked CloudEvent; Refused if it cannot be recorded.

    `owner` names the integration that sent it, whose external runs, artifacts and
    CDEvents kept whole get streams of their own (`extrun-<owner>/<key>`): tools never
    share them.
    """
    prefix = "" if owner is None else f"{owner}/"
    if event.type not in MAPPED_TYPES:
        return _kept_whole(event, prefix)
    content = event.content
    subject_id = str(event.subject["id"])
    if event.type in (DEPLOYED, UPGRADED, ROLLEDBACK):
        environment = str(content["environment"]["id"])
        stream = _stream("env", environment, "$.data.subject.content.environment.id")
        digest = image_digest(content["artifactId"], "$.data.subject.content.artifactId")
        if event.type == ROLLEDBACK:
            rolled = RolledBack(
                deployment_id=event.key,
                service=subject_id,
                image_digest=digest,
                finished_at=event.timestamp,
            )
            return Append(stream, (rolled,), event.key)
        return DeploymentPlan(event.key, environment, subject_id, digest, event.timestamp)
    if event.type in (DETECTED, RESOLVED):
        environment = str(content["environment"]["id"])
        _stream("env", environment, "$.data.subject.content.environment.id")
        service = content.get("service", {}).get("id")
        return IncidentPlan(
            incident_id=subject_key(event.subject_source, subject_id),
            environment=environment,
            resolved=event.type == RESOLVED,
            at=event.timestamp,
            service=service,
            description=content.get("description") or None,
            subject=subject_id,
        )
    return _other(event, subject_id, prefix)


def _kept_whole(event: CloudEvent, prefix: str) -> Append:
    """A CDEvent of a type shiplog has no event for: kept as it came, in its subject's stream."""
    subject_id = str(event.subject["id"])
    kept = CDEventImported(
        cdevent_type=event.type,
        subject_id=subject_id,
        subject_source=event.subject_source,
        timestamp=event.timestamp,
        source=event.source,
        id=event.id,
        cdevent_document=json.dumps(event.data, ensure_ascii=False, separators=(",", ":")),
    )
    stream = "cdevent-" + prefix + subject_key(event.subject_source, subject_id)
    return Append(stream, (kept,), event.key)


def _other(event: CloudEvent, subject_id: str, prefix: str) -> Append:
    """Pipeline runs, artifacts and changes: shiplog's own types for them."""
    content = event.content
    source = event.subject_source
    at = event.timestamp
    if event.type == MERGED:
        repository = content.get("repository", {}).get("id")
        path = "$.data.subject.content.repository.id"
        if repository is None:
            message = (
                "required by shiplog: merged changes are recorded in their repository's stream"
            )
            raise Refused([SchemaProblem(path, message)])
        merged = ChangeMerged(source=source, change=subject_id, repository=repository, merged_at=at)
        ident = _repository_identity(str(repository), content.get("repository", {}).get("source"))
        return Append(_stream("repo", ident, path), (merged,), event.key)
    if event.type == PUBLISHED:
        digest, repository = _purl_parts(subject_id)
        published = ArtifactPublished(
            source=source,
            artifact_id=subject_id,
            digest=digest,
            repository=repository,
            sbom_uri=content.get("sbom", {}).get("uri"),
            user=content.get("user"),
            published_at=at,
        )
        stream = "artifact-" + prefix + subject_key(source, subject_id)
        return Append(stream, (published,), event.key)
    stream = "extrun-" + prefix + subject_key(source, subject_id)
    name, uri = content.get("pipelineName"), content.get("uri")
    run: Event
    if event.type == QUEUED:
        run = ExternalRunQueued(
            source=source, run=subject_id, pipeline_name=name, uri=uri, queued_at=at
        )
    elif event.type == STARTED:
        run = ExternalRunStarted(  # the schema requires both name and uri here
            source=source,
            run=subject_id,
            pipeline_name=str(name),
            uri=str(uri),
            started_at=at,
        )
    else:
        run = ExternalRunFinished(
            source=source,
            run=subject_id,
            pipeline_name=name,
            uri=uri,
            outcome=content.get("outcome"),
            errors=content.get("errors"),
            finished_at=at,
        )
    return Append(stream, (run,), event.key)


def _purl_parts(text: str) -> tuple[str | None, str | None]:
    """The sha256 digest (purl version) and `repository_url` of a purl, where it has them."""
    try:
        purl = PackageURL.from_string(text)
    except ValueError:
        return None, None
    version = purl.version or ""
    qualifiers = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
    return (version if version.startswith("sha256:") else None), qualifiers.get("repository_url")
