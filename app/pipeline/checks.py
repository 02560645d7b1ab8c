"""Checks across steps and services that a schema cannot express: names, graph, images, secrets."""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from app.pipeline.dag import find_cycles, step_dependencies
from app.pipeline.fields import normalize_image
from app.pipeline.parts import FromSecret, Loc, Service
from app.pipeline.sandbox import SandboxOptions
from app.pipeline.steps import BuildStep, PushStep, ScanStep, Step, producer_of

_STEP = TypeAdapter[Step](Step)


@dataclass(frozen=True)
class Finding:
    """One problem at a path in the document; `at_key` points at the key rather than its value."""

    loc: Loc
    message: str
    at_key: bool = False


def render_loc(loc: Loc) -> str:
    """Write a path the way messages show it: `steps[2].depends_on[0]`."""
    text = ""
    for element in loc:
        text += f"[{element}]" if isinstance(element, int) else f".{element}" if text else element
    return text


def suggest(word: str, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest candidate, or nothing when none is close."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_pipeline(
    steps: Sequence[Step],
    services: Sequence[Service],
    known_secrets: Collection[str] | None = None,
    allowed_privileges: Collection[str] | None = None,
) -> list[Finding]:
    """Every cross-step problem of a pipeline's steps and services, each valid on its own."""
    return check_parts(
        list(enumerate(steps)),
        list(enumerate(services)),
        known_secrets=known_secrets,
        allowed_privileges=allowed_privileges,
    )


def check_raw(
    data: Mapping[str, Any],
    known_secrets: Collection[str] | None,
    allowed_privileges: Collection[str] | None = None,
) -> list[Finding]:
    """The same checks on a document that failed validation, over the steps that are valid."""
    raw_steps = data.get("steps")
    raw_services = data.get("services")
    steps = _valid(raw_steps, _STEP.validate_python)
    services = _valid(raw_services, Service.model_validate)
    return check_parts(
        steps,
        services,
        step_names=_raw_names(raw_steps),
        service_names=_raw_names(raw_services),
        named_steps=_raw_named(raw_steps),
        known_secrets=known_secrets,
        allowed_privileges=allowed_privileges,
        complete=False,
    )


def check_parts(
    steps: Sequence[tuple[int, Step]],
    services: Sequence[tuple[int, Service]],
    *,
    step_names: Collection[str] | None = None,
    service_names: Collection[str] | None = None,
    named_steps: Sequence[tuple[int, str]] | None = None,
    known_secrets: Collection[str] | None = None,
    allowed_privileges: Collection[str] | None = None,
    complete: bool = True,
) -> list[Finding]:
    """Cross-step checks over (index, step) and (index, service) pairs of one document.

    With `complete=False` some steps failed validation and are missing here, so checks that
    need every step (an image no step builds) are left out; `step_names` then lists all names
    and `named_steps` the (index, name) of every step with a name, valid or not. Secrets and
    privileges are checked only when the repository's `known_secrets` and
    `allowed_privileges` are given.
    """
    names = set(step_names) if step_names is not None else {s.name for _, s in steps}
    hosts = set(service_names) if service_names is not None else {s.name for _, s in services}
    if named_steps is None:
        named_steps = [(index, step.name) for index, step in steps]
    findings = _duplicates("steps", named_steps, "step name")
    findings += _duplicates("services", [(i, s.name) for i, s in services], "service name")
    findings += _images(steps, services, complete)
    findings += _depends_on(steps, names, hosts)
    findings += _cycles(steps)
    findings += _environment(steps)
    findings += _secret_build_args(steps)
    if known_secrets is not None:
        findings += _secrets(steps, services, known_secrets)
    if allowed_privileges is not None:
        findings += _privileges(steps, services, allowed_privileges)
    return findings


def _valid(raw: Any, validate: Any) -> list[tuple[int, Any]]:
    """The (index, model) pairs of the items of a raw list that validate on their own."""
    if not isinstance(raw, list):
        return []
    valid: list[tuple[int, Any]] = []
    for index, item in enumerate(raw):
        try:
            valid.append((index, validate(item)))
        except ValidationError:
            continue
    return valid


def _raw_named(raw: Any) -> list[tuple[int, str]]:
    """(index, name) of the items of a raw list that have a string name."""
    items = raw if isinstance(raw, list) else []
    return [
        (index, item["name"])
        for index, item in enumerate(items)
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    ]


def _raw_names(raw: Any) -> set[str]:
    """Names of the items of a raw list, as far as they are strings."""
    return {name for _, name in _raw_named(raw)}


def _duplicates(section: str, named: Sequence[tuple[int, str]], what: str) -> list[Finding]:
    """A finding for every name used again after its first use."""
    first: dict[str, int] = {}
    findings: list[Finding] = []
    for index, name in named:
        if name in first:
            earlier = render_loc((section, first[name]))
            message = f"duplicate {what} '{name}' (already used by {earlier})"
            findings.append(Finding((section, index, "name"), message))
        else:
            first[name] = index
    return findings


def _images(
    steps: Sequence[tuple[int, Step]], services: Sequence[tuple[int, Service]], complete: bool
) -> list[Finding]:
    """Built tags are unique; built images are used only after they are built, never by services."""
    findings: list[Finding] = []
    producers: dict[str, tuple[int, str]] = {}
    for index, step in steps:
        if not isinstance(step, BuildStep):
            continue
        for number, tag in enumerate(step.build.tags):
            known = producers.setdefault(normalize_image(tag), (index, step.name))
            if known[0] != index:
                message = f"tag '{tag}' is already built by step '{known[1]}'"
                findings.append(Finding(("steps", index, "build", "tags", number), message))
    for index, step in steps:
        image = step.image_used()
        if image is None:
            continue
        loc = ("steps", index, *step.image_loc())
        producer = producers.get(normalize_image(image))
        if producer is None and isinstance(step, ScanStep):
            producer = next(
                ((i, s.name) for i, s in steps if s.name == image and isinstance(s, BuildStep)),
                None,
            )
        if producer is not None and producer[0] > index:
            message = (
                f"image '{image}' is built by step '{producer[1]}', which comes later in the "
                f"file; move '{producer[1]}' above this step"
            )
            findings.append(Finding(loc, message))
        elif producer is None and complete and isinstance(step, PushStep):
            built = ", ".join(f"'{tag}'" for tag in producers) or "none"
            message = (
                f"'{image}' is not built by any build step of this pipeline; a push step "
                f"pushes an image built by this run (built tags: {built})"
            )
            findings.append(Finding(loc, message))
    for index, service in services:
        producer = producers.get(normalize_image(service.image))
        if producer is not None:
            message = (
                f"services start before any step, so they cannot use image '{service.image}' "
                f"built by step '{producer[1]}'"
            )
            findings.append(Finding(("services", index, "image"), message))
    return findings


def _depends_on(
    steps: Sequence[tuple[int, Step]], names: Collection[str], hosts: Collection[str]
) -> list[Finding]:
    """Every `depends_on` entry names another step of this pipeline."""
    findings: list[Finding] = []
    for index, step in steps:
        for number, target in enumerate(step.depends_on or ()):
            loc = ("steps", index, "depends_on", number)
            if target == step.name:
                findings.append(Finding(loc, f"step '{target}' cannot depend on itself"))
            elif target in hosts and target not in names:
                message = (
                    f"'{target}' is a service, not a step; services start before every step, "
                    f"so there is nothing to wait for"
                )
                findings.append(Finding(loc, message))
            elif target not in names:
                message = f"unknown step '{target}'{suggest(target, names)}"
                findings.append(Finding(loc, message))
    return findings


def _cycles(steps: Sequence[tuple[int, Step]]) -> list[Finding]:
    """A finding for each group of steps that wait for each other, naming the cycle."""
    index_of: dict[str, int] = {}
    by_name: dict[str, Step] = {}
    for index, step in steps:
        index_of.setdefault(step.name, index)
        by_name.setdefault(step.name, step)
    graph = {
        name: frozenset(dep for dep in waits if dep in by_name and dep != name)
        for name, waits in step_dependencies([step for _, step in steps]).items()
    }
    findings: list[Finding] = []
    for cycle in find_cycles(graph):
        first, second = cycle[0], cycle[1]
        step = by_name[first]
        explicit = tuple(step.depends_on or ())
        if second in explicit:
            loc: Loc = ("steps", index_of[first], "depends_on", explicit.index(second))
        else:
            loc = ("steps", index_of[first], *step.image_loc())
        notes = [
            f"'{a}' uses the image '{b}' builds"
            for a, b in itertools.pairwise(cycle)
            if b not in (by_name[a].depends_on or ()) and _producer(by_name[a], steps) == b
        ]
        message = f"dependency cycle: {' -> '.join(cycle)} (each step waits for the next"
        message += f"; {', '.join(notes)})" if notes else ")"
        findings.append(Finding(loc, message))
    return findings


def _producer(step: Step, steps: Sequence[tuple[int, Step]]) -> str | None:
    """The build step that builds the image `step` uses, if any."""
    return producer_of(step, (s for _, s in steps))


def _environment(steps: Sequence[tuple[int, Step]]) -> list[Finding]:
    """A secret and a plain variable of the same name would overwrite each other."""
    findings: list[Finding] = []
    for index, step in steps:
        secrets = {name for _, name in step.secret_refs()}
        for key in getattr(step, "environment", {}):
            if key in secrets:
                message = (
                    f"'{key}' is both in environment and in secrets; a secret becomes the "
                    f"environment variable of the same name"
                )
                findings.append(Finding(("steps", index, "environment", key), message, True))
    return findings


def _secrets(
    steps: Sequence[tuple[int, Step]],
    services: Sequence[tuple[int, Service]],
    known: Collection[str],
) -> list[Finding]:
    """Every secret name used is one the repository has."""
    findings: list[Finding] = []
    for prefix, item in _located(steps, services):
        for loc, name in item.secret_refs():
            if name not in known:
                hint = suggest(name, known) or (
                    "" if known else " (no secrets are defined for this repository)"
                )
                findings.append(Finding((*prefix, *loc), f"unknown secret '{name}'{hint}"))
    return findings


def _secret_build_args(steps: Sequence[tuple[int, Step]]) -> list[Finding]:
    """A secret build argument would stay in the image's history: refuse it, saying what to do."""
    findings: list[Finding] = []
    for index, step in steps:
        if not isinstance(step, BuildStep):
            continue
        for key, value in step.build.args.items():
            if isinstance(value, FromSecret):
                message = (
                    f"a secret build argument stays in the built image's history and config, "
                    f"for anyone who pulls it; list '{value.from_secret}' under build.secrets "
                    f"and read it in the Dockerfile with "
                    f"`RUN --mount=type=secret,id={value.from_secret} ...` (a BuildKit secret "
                    f"mount, the file /run/secrets/{value.from_secret})"
                )
                findings.append(Finding(("steps", index, "build", "args", key), message))
    return findings


def _privileges(
    steps: Sequence[tuple[int, Step]],
    services: Sequence[tuple[int, Service]],
    allowed: Collection[str],
) -> list[Finding]:
    """Privileged mode, the host network or the Docker socket only where the repository may."""
    findings: list[Finding] = []
    for prefix, item in _located(steps, services):
        if not isinstance(item, SandboxOptions):
            continue
        for loc, privilege in item.privileges():
            if privilege not in allowed:
                message = (
                    f"this repository is not allowed '{privilege}'; an administrator can "
                    f"allow it with `shiplog sandbox allow {privilege} --repo REPOSITORY`"
                )
                findings.append(Finding((*prefix, *loc), message))
    return findings


def _located(
    steps: Sequence[tuple[int, Step]], services: Sequence[tuple[int, Service]]
) -> list[tuple[Loc, Step | Service]]:
    """Every step and service with its path in the document: `steps[i]`, `services[i]`."""
    items: list[tuple[Loc, Step | Service]] = [(("steps", i), s) for i, s in steps]
    return items + [(("services", i), s) for i, s in services]
