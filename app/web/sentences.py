"""What happened, in one line of plain words per event type: the timeline's details column.

Each event type of the catalogue (events/vocabulary.py) has its own small Jinja
template in SENTENCES, rendered with the event's data as `e` (as stored) and its
metadata as `meta`. They live together in this one mapping rather than a file per
type because each is a single line: side by side they read alike, a reviewer sees
every sentence at once, and a new event type is one line here (tests/web fails for
a type of the catalogue without one). They are compiled by an environment that
shares the pages' filters (`ident`, `duration`, ...) and templates/, so a digest in
a sentence is shown as it is everywhere else.

Absent values are left out: the environment prints None as nothing, and a clause
about an optional field is written inside `{% if %}`. A type without a sentence
(one a newer writer added) falls back to its fields as `name value`, None left out.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, Template
from markupsafe import Markup, escape

from app.queries.supplychain import scan_severities
from app.web.templating import templates

# Reused pieces: a step's name, an image (linked to its page), a run (linked to its page).
_STEP = "step <strong>{{ e.step }}</strong>"
_IMAGE = "{{ e.%s | image_link }}"

SENTENCES: dict[str, str] = {
    # run-<id>
    "RunQueued": "run queued for {{ e.repository }} at {{ e.commit | ident }}"
    " ({{ e.ref | ref_name }}), {{ e.trigger }}"
    "{% if e.dirty %}, with uncommitted changes{% endif %}",
    "RunClaimed": "claimed by runner {{ e.runner }} (shiplog {{ e.runner_version }}"
    "{% if e.docker_version %}, Docker {{ e.docker_version }}{% endif %})",
    "StepStarted": _STEP
    + " started: {% if e.image_digest %}{{ e.image }} as "
    + _IMAGE % "image_digest"
    + "{% elif (e.image or '').startswith('sha256:') %}"
    + _IMAGE % "image"
    + "{% else %}{{ e.image }}{% endif %}",
    "StepFinished": _STEP + " {{ 'finished' if e.exit_code == 0 else 'failed' }}"
    "{% if e.duration_ms is not none %} in {{ e.duration_ms | duration }}{% endif %}"
    "{% if e.exit_code is not none %}, exit {{ e.exit_code }}{% else %}, exit unknown{% endif %}"
    "{% if e.timed_out %}, stopped at its timeout{% endif %}"
    "{% if e.reason %} ({{ e.reason }}){% endif %}"
    "{% if e.log_lines is not none %}, {{ e.log_lines | plural('log line') }}{% endif %}",
    "StepSkipped": _STEP + " skipped: {{ e.reason }}",
    "ImageBuilt": _STEP
    + " built "
    + _IMAGE % "image_id"
    + "{% if e.tags %} tagged {{ e.tags | join(', ') }}{% endif %}"
    "{% for b in e.base_images %}{{ ' on ' if loop.first else ', ' }}{{ b.name }}{% endfor %}",
    "TestsReported": "tests in {{ e.step }}: {{ e.passed }} passed, {{ e.failed }} failed, "
    "{{ e.skipped }} skipped{% if e.failing %}; failing: {{ e.failing | join(', ') }}{% endif %}",
    "ImagePushed": "pushed {{ e.repository }}:{{ e.tag }} as " + _IMAGE % "digest",
    "SbomGenerated": "SBOM of "
    + _IMAGE % "image_digest"
    + ": {{ e.components | plural('package') }}"
    "{% for kind, n in (e.ecosystems or {}).items() %}{{ ' (' if loop.first else ', ' }}"
    "{{ kind }} {{ n }}{{ ')' if loop.last }}{% endfor %}",
    "ScanCompleted": "scan of "
    + _IMAGE % "image_digest"
    + ": {{ (e.findings_total if e.findings_digest else e.findings | length) | plural('finding') }}"
    "{% for severity, n in e | severities %}{{ ' (' if loop.first else ', ' }}"
    "{{ n }} {{ severity }}{{ ')' if loop.last }}{% endfor %}"
    " against {{ e.advisories | plural('advisory', 'advisories') }}"
    "{% if e.fail_on %}, fails on {{ e.fail_on }} or graver{% endif %}"
    "{% if e.skipped_total %}; {{ e.skipped_total | plural('unreadable advisory record') }}"
    " skipped{% endif %}",
    "ProvenanceSigned": "provenance of "
    + _IMAGE % "image_digest"
    + " signed (key {{ e.key_id | ident(copy=False) }})",
    "RunSucceeded": "run succeeded in {{ e.duration_ms | duration }}",
    "RunFailed": "run failed: {{ e.reason }}",
    "RunCancelled": "run cancelled{% if e.reason %}: {{ e.reason }}{% endif %}",
    # engine-<host>
    "ImagesPruned": "{{ e.removed | length | plural('image') }} pruned from the engine, "
    "{{ e.kept_in_use }} kept (in use or built since {{ e.recent_since }})",
    # repo-<name>
    "RepositoryRegistered": "repository {{ e.repository }} registered ({{ e.forge }}), cloned "
    "from {{ e.clone_url }}{% if e.credential %} with a credential{% endif %}"
    "{% if e.commit_status %}, commit statuses on{% endif %}"
    "{% if e.secret_rotated %}, webhook secret rotated{% endif %}",
    "RepositoryRemoved": "repository {{ e.repository }} removed",
    "WebhookRejected": "{{ e.forge }} webhook refused"
    "{% if e.repository %} for {{ e.repository }}{% endif %}"
    "{% if e.delivery %} (delivery {{ e.delivery }}){% endif %}: {{ e.reason }}",
    "CommitsPushed": "{{ e.commits | length | plural('commit') }} pushed to "
    "{{ e.ref | ref_name }} of {{ e.repository }}",
    "ChangeMerged": "change {{ e.change }} merged into {{ e.repository }}",
    # env-<name>
    "DeploymentRequested": "{{ e.strategy }} deployment of "
    + _IMAGE % "image_digest"
    + " to {{ e.service }} asked for"
    "{% if e.from_environment %}, promoted from "
    "{{ e.from_environment | environment_link }}{% endif %}"
    "{% if e.run_id %} by run {{ e.run_id | run_link }}{% endif %}"
    "{% if e.approvals_required %}, {{ e.approvals_required | plural('approval') }} needed"
    "{% endif %}{% if e.waived %}, gates waived: {{ e.waived | join(', ') }}{% endif %}",
    "PromotionRefused": "{{ e.service }} refused "
    + _IMAGE % "image_digest"
    + "{% if e.from_environment %} from {{ e.from_environment | environment_link }}{% endif %}"
    " by the {{ e.policy }} rule: {{ e.reason }}",
    "DeploymentTimedOut": "deployment of "
    + _IMAGE % "image_digest"
    + " to {{ e.service }} withdrawn after {{ e.waited_ms | duration }}"
    "{% if e.waiting_for %}, still waiting for {{ e.waiting_for | join(', ') }}{% endif %}",
    "DeploymentStarted": "deploying "
    + _IMAGE % "image_digest"
    + " to {{ e.service }} ({{ e.strategy }})"
    "{% if e.previous_digest %}, replacing {{ e.previous_digest | image_link }}{% endif %}"
    "{% if e.run_id %} from run {{ e.run_id | run_link }}{% endif %}",
    "DeploymentSucceeded": "{{ e.service }} now runs " + _IMAGE % "image_digest",
    "DeploymentFailed": "deployment to {{ e.service }} failed: {{ e.reason }}",
    "RolledBack": "{{ e.service }} rolled back"
    "{% if e.from_digest %} from {{ e.from_digest | image_link }}{% endif %} to "
    + _IMAGE % "image_digest"
    + "{% if e.reason %}: {{ e.reason }}{% endif %}",
    "RollbackFailed": "rollback of {{ e.service }} from {{ e.from_digest | image_link }} to "
    + _IMAGE % "image_digest"
    + " failed: {{ e.reason }}",
    "ApprovalGranted": "{% if e.image_digest %}deployment of "
    + _IMAGE % "image_digest"
    + "{% elif e.run_id %}deployment of run {{ e.run_id | run_link }}{% else %}deployment"
    "{% endif %} approved{% if e.service %} for {{ e.service }}{% endif %}"
    "{% if e.evidence_sha256 %} on evidence {{ e.evidence_sha256 | ident }}{% endif %}"
    "{% if e.comment %}: {{ e.comment }}{% endif %}",
    "ApprovalRejected": "deployment of "
    + _IMAGE % "image_digest"
    + " to {{ e.service }} rejected: {{ e.reason }}",
    "WaiverGranted": "the {{ e.policy }} gate waived for "
    + _IMAGE % "image_digest"
    + " until {{ e.expires_at }}: {{ e.reason }}",
    "EnvironmentPinned": "{{ e.service }} pinned to "
    + _IMAGE % "image_digest"
    + ": {{ e.reason }}",
    "EnvironmentUnpinned": "{{ e.service }} unpinned: {{ e.reason }}",
    "TrafficSwitched": "{{ e.service }}'s traffic switched"
    "{% if e.from_colour %} from {{ e.from_colour }}{% endif %} to {{ e.to_colour }} ("
    + _IMAGE % "image_digest"
    + ")",
    "StandbyRetired": "{{ e.service }}'s standby {{ e.colour }} ("
    + _IMAGE % "image_digest"
    + ") retired",
    "CanaryStepStarted": "canary of {{ e.service }}, step {{ e.step }}: {{ e.weight }}% of the "
    "traffic for {{ e.pause_ms | duration }}",
    "AnalysisMeasured": "canary of {{ e.service }} at {{ e.weight }}%: {{ e.requests }} requests,"
    " {{ e.errors }} errors ({{ '%.2f' | format((e.error_rate_bp or 0) / 100) }}%)"
    "{% if e.latency_ms is not none %}, {{ e.latency_ms }} ms mean{% endif %}"
    "{% for p in e.probes %}{{ ', probes ' if loop.first else ', ' }}{{ p.path }} "
    "{{ p.status or 'no answer' }}{% endfor %}: "
    "<strong>{{ 'passed' if e.passed else 'failed' }}</strong>"
    "{% if e.reasons %} ({{ e.reasons | join('; ') }}){% endif %}",
    "CanaryPromoted": "canary of "
    + _IMAGE % "image_digest"
    + " promoted in {{ e.service }} after {{ e.steps | plural('step') }}",
    "CanaryAborted": "canary of "
    + _IMAGE % "image_digest"
    + " aborted in {{ e.service }} at step {{ e.step }}: {{ e.reason }}",
    "DriftDetected": "{{ e.service }} drifted: {{ e.differences | join(', ') }}"
    "{% if e.observed %}; the swarm runs {{ e.observed.image_digest | image_link }}"
    "{% if e.observed.replicas is not none %} in "
    "{{ e.observed.replicas | plural('replica') }}{% endif %}"
    "{% elif e.differences %}; not on the swarm{% endif %}"
    "{% if e.intended %}, the ledger says {{ e.intended.image_digest | image_link }}"
    "{% if e.intended.replicas is not none %} in "
    "{{ e.intended.replicas | plural('replica') }}{% endif %}{% endif %}",
    "DriftResolved": "{{ e.service }} matches the ledger again ({{ e.how }})",
    # incident-<id>
    "IncidentOpened": "incident in {{ e.environment | environment_link }}, {{ e.service }}: "
    "{{ e.summary }}{% if e.caused_by_deployment %} (caused by deployment "
    "{{ e.caused_by_deployment | ident(copy=False) }}){% endif %}",
    "IncidentResolved": "incident resolved{% if e.resolution %}: {{ e.resolution }}{% endif %}",
    # repro-<id>
    "ReproductionRequested": "rebuild of "
    + _IMAGE % "image_id"
    + " requested, from run {{ e.run_id | run_link }}, step {{ e.step }}",
    "ReproductionCompleted": "rebuild of "
    + _IMAGE % "image_id"
    + ": <strong>{{ e.verdict }}</strong>"
    "{% if e.differences_total %}, {{ e.differences_total | plural('path') }} differ{% endif %}"
    "{% if e.config_differences %}, settings differ: {{ e.config_differences | join(', ') }}"
    "{% endif %}{% if e.reason %}: {{ e.reason }}{% endif %}"
    "{% if e.duration_ms %}, in {{ e.duration_ms | duration }}{% endif %}",
    # extrun-<id> and artifact-<id>: what other tools reported (imported CDEvents)
    "ExternalRunQueued": "{{ e.pipeline_name or 'pipeline' }} run {{ e.run | ident(copy=False) }}"
    " queued",
    "ExternalRunStarted": "{{ e.pipeline_name }} run {{ e.run | ident(copy=False) }} started",
    "ExternalRunFinished": "{{ e.pipeline_name or 'pipeline' }} run "
    "{{ e.run | ident(copy=False) }} finished{% if e.outcome %}: {{ e.outcome }}{% endif %}"
    "{% if e.errors %} ({{ e.errors }}){% endif %}",
    # cdevent-<key>: a CDEvent of a type shiplog has no event of its own for, kept whole
    "CDEventImported": "CDEvent <code>{{ e.cdevent_type }}</code> from {{ e.source }} about "
    "{{ e.subject_id | ident(copy=False) }}",
    "ArtifactPublished": "published {{ e.artifact_id | ident(copy=False) }}"
    "{% if e.digest %} as {{ e.digest | image_link }}{% endif %}"
    "{% if e.user %} by {{ e.user }}{% endif %}",
    # notify-<target>
    "NotificationTargetAdded": "notification target <strong>{{ e.target }}</strong> added "
    "({{ e.kind }}, {{ e.origin }}{% if e.signed %}, signed{% endif %})",
    "NotificationTargetRemoved": "notification target <strong>{{ e.target }}</strong> removed",
    "NotificationTargetDisabled": "notification target <strong>{{ e.target }}</strong> "
    "disabled: {{ e.reason }}",
    "NotificationSent": "told <strong>{{ e.target }}</strong> about {{ e.subject }}"
    " (attempt {{ e.attempt }}, HTTP {{ e.status }})",
    "NotificationFailed": "could not tell <strong>{{ e.target }}</strong> about {{ e.subject }}"
    " (attempt {{ e.attempt }}): {{ e.reason }}{% if not e.final %}, will retry{% endif %}",
    # access-<actor> and token-<name>
    "AccessDenied": "refused <code>{{ e.action }}</code>"
    "{% if e.client %} from {{ e.client }}{% endif %}: {{ e.reason }}"
    "{% if e.suppressed %} ({{ e.suppressed | plural('more refusal') }} not recorded one by one"
    "){% endif %}",
    "TokenCreated": "API token <strong>{{ e.name }}</strong> made"
    "{% if e.roles %} with the role{% if e.roles | length > 1 %}s{% endif %} "
    "{{ e.roles | join(', ') }}{% endif %}"
    "{% if e.expires_at %}, until {{ e.expires_at }}{% endif %}",
    "TokenRevoked": "API token <strong>{{ e.name }}</strong> revoked, with its web sessions",
}


def _no_none(value: Any) -> Any:
    """What `{{ value }}` prints: nothing for None, never the word."""
    return "" if value is None else value


@cache
def _environment() -> Environment:
    """The sentences' environment: the pages' loader and filters, None printed as nothing."""
    env = Environment(loader=templates.env.loader, autoescape=True, finalize=_no_none)
    env.filters.update(templates.env.filters)
    env.filters["severities"] = scan_severities
    return env


@cache
def sentence_template(type_name: str) -> Template | None:
    """The compiled sentence of `type_name`, None if it has none."""
    source = SENTENCES.get(type_name)
    return None if source is None else _environment().from_string(source)


def sentence(type_name: str, data: dict[str, Any], metadata: dict[str, Any]) -> Markup:
    """One event in plain words; a type without a sentence lists its fields that have values."""
    template = sentence_template(type_name)
    if template is not None:
        return Markup(template.render(e=data, meta=metadata).strip())
    shown = [
        Markup('<span class="kv"><span class="k">{0}</span> {1}</span>').format(key, _brief(value))
        for key, value in data.items()
        if value is not None and value != [] and value != {}
    ]
    return Markup(" ").join(shown[:6]) if shown else escape("")


def _brief(value: Any) -> str:
    """A data value in at most 80 characters."""
    if isinstance(value, dict):
        text = ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
    elif isinstance(value, list | tuple):
        text = ", ".join(str(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"
