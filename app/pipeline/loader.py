"""Read a pipeline file and refuse it, with every problem at its line and column, or return it."""

from __future__ import annotations

import datetime
from collections.abc import Collection
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from app.pipeline.checks import Finding, check_pipeline, check_raw, render_loc, suggest
from app.pipeline.document import Document, Position, YamlSyntaxError, compose
from app.pipeline.errors import PipelineError, Problem
from app.pipeline.fields import PATTERN_HELP
from app.pipeline.model import DEFER_CHECKS, Pipeline
from app.pipeline.parts import FromSecret, Loc
from app.pipeline.steps import STEP_KINDS

DEFAULT_SOURCE = ".shiplog.yml"
"""The name a pipeline file has in a repository, and in messages when no other is given."""

_TAGS: dict[str, Any] = {**STEP_KINDS, "from_secret value": FromSecret, "plain value": str}
"""Union tags pydantic puts into `loc`, and the type each one stands for."""


def load_pipeline(
    path: Path,
    *,
    known_secrets: Collection[str] | None = None,
    allowed_privileges: Collection[str] | None = None,
) -> Pipeline:
    """Read and check a pipeline file; PipelineError lists every problem found."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        problem = Problem(source, None, None, f"cannot read: {error.strerror}")
        raise PipelineError([problem]) from error
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        before = raw[: error.start].decode("utf-8", errors="replace").split("\n")
        line, column = len(before), len(before[-1]) + 1
        problem = Problem(source, line, column, "the file is not UTF-8 text")
        raise PipelineError([problem]) from error
    return parse_pipeline(
        text, source, known_secrets=known_secrets, allowed_privileges=allowed_privileges
    )


def parse_pipeline(
    text: str,
    source: str = DEFAULT_SOURCE,
    *,
    known_secrets: Collection[str] | None = None,
    allowed_privileges: Collection[str] | None = None,
) -> Pipeline:
    """Check the text of a pipeline file named `source`; PipelineError lists every problem.

    `known_secrets` (the secrets the run's repository has) and `allowed_privileges` (what
    an administrator allowed it) are checked when given, and left out when None.
    """
    try:
        document = compose(text)
    except YamlSyntaxError as error:
        where = error.position
        problem = Problem(
            source,
            where.line if where else None,
            where.column if where else None,
            f"invalid YAML: {error.message}",
        )
        raise PipelineError([problem]) from error
    problems = [
        Problem(source, where.line, where.column, message) for where, message in document.problems
    ]
    data = document.data
    if not isinstance(data, dict):
        message = (
            "the file is empty; a pipeline needs at least 'name' and 'steps'"
            if data is None
            else "the top level must be a mapping with 'name', 'steps' and so on"
        )
        raise PipelineError([*problems, Problem(source, 1, 1, message)])
    findings: list[Finding] = []
    pipeline: Pipeline | None = None
    try:
        pipeline = Pipeline.model_validate(data, context={DEFER_CHECKS: True})
    except ValidationError as error:
        translated = (_translate(detail, document) for detail in error.errors())
        findings += [finding for finding in translated if finding is not None]
        findings += check_raw(data, known_secrets, allowed_privileges)
    else:
        findings += check_pipeline(
            pipeline.steps, pipeline.services, known_secrets, allowed_privileges
        )
    problems += [_problem(source, finding, document) for finding in findings]
    if problems or pipeline is None:
        raise PipelineError(problems)
    return pipeline


def _problem(source: str, finding: Finding, document: Document) -> Problem:
    """A finding placed at its line and column."""
    where: Position | None = document.position(finding.loc, at_key=finding.at_key)
    return Problem(
        source,
        where.line if where else None,
        where.column if where else None,
        finding.message,
        render_loc(finding.loc),
    )


def _clean_loc(loc: tuple[int | str, ...], data: Any) -> tuple[Loc, bool]:
    """Drop union tags and `[key]` from a pydantic loc; say whether it points at a key."""
    clean: list[str | int] = []
    at_key = False
    for element in loc:
        if element == "[key]":
            at_key = True
            continue
        in_list = isinstance(data, list) and isinstance(element, int) and element < len(data)
        if in_list or (isinstance(data, dict) and element in data):
            data = data[element]
        elif element in _TAGS:
            continue
        else:
            data = None
        clean.append(element)
    return tuple(clean), at_key


def _translate(detail: ErrorDetails, document: Document) -> Finding | None:
    """One pydantic error as a finding written for the person editing the file (None: noise)."""
    loc, at_key = _clean_loc(detail["loc"], document.data)
    kind, ctx, value = detail["type"], detail.get("ctx", {}), detail["input"]
    if kind == "too_short" and isinstance(value, list) and value:
        return None  # "too short after validation": its items' own errors say why
    got = _describe(value, document.scalars.get(loc))
    message = detail["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        model = _model_at(detail["loc"][:-1])
        allowed = list(model.model_fields) if model else []
        where = f" in a {getattr(model, 'kind', '')}" if getattr(model, "kind", "") else ""
        message = f"unknown key '{loc[-1]}'{where}{suggest(str(loc[-1]), allowed)}"
        if allowed:
            message += f"; allowed: {', '.join(allowed)}"
        return Finding(loc, message, at_key=True)
    if kind == "missing":
        model = _model_at(detail["loc"][:-1])
        message = f"missing required key '{loc[-1]}'"
        if loc[-1] == "image" and getattr(model, "kind", "") == "step with commands":
            message = (
                "missing image: a step needs an 'image' to run its commands in "
                "(or a 'build:' or 'push:' mapping)"
            )
        return Finding(loc[:-1], message)
    if kind in ("reserved_step_kind", "step_kind_conflict"):
        if kind == "reserved_step_kind":
            message += "; run it as a step with commands until then"
        return Finding((*loc, str(ctx["kind"])), message, at_key=True)
    if kind == "string_type":
        message = f"expected a string, got {got}"
        raw = document.scalars.get(loc)
        if raw is not None and not isinstance(value, str | dict | list):
            message += f'; quote it: "{raw}"'
        elif isinstance(value, dict) and len(value) == 1:
            message += "; an unquoted ': ' starts a mapping, so quote the whole value"
    elif kind in ("list_type", "tuple_type"):
        message = f"expected a list, got {got}"
        if loc == ("steps",) and isinstance(value, dict):
            message += "; write each step as a list item with a name: '- name: build'"
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        message = f"expected a mapping, got {got}"
    elif kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        options = [part.strip(" '") for part in expected.replace(" or ", ",").split(",")]
        message = f"'{value}' is not one of {expected}{suggest(str(value), options)}"
    elif kind == "string_pattern_mismatch":
        help_text = PATTERN_HELP.get(str(ctx.get("pattern")))
        if help_text:
            message = f"'{value}' is not {help_text}"
    elif kind == "too_short" and loc == ("steps",):
        message = "a pipeline needs at least one step"
    elif kind == "too_short":
        message = f"needs at least {ctx.get('min_length')} item(s)"
    elif kind == "string_too_short":
        message = "must not be empty"
    elif kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        message = f"must be {words} {ctx.get(key)}, not {value}"
    return Finding(loc, message, at_key=at_key)


_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("more than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
}
"""Pydantic's number bounds: the words for each, and the key of its limit."""


def _describe(value: Any, raw: str | None) -> str:
    """How YAML read a value, in words: `boolean yes`, `integer 5432`, `a mapping`."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"boolean {raw or value}"
    if isinstance(value, int | float):
        return f"number {raw or value}"
    if isinstance(value, datetime.date):
        return f"date {raw or value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional from a type, where that leaves one type."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at a raw pydantic loc, if it is one."""
    current: Any = Pipeline
    for element in loc:
        current = _unwrap(current)
        origin = get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(element, str) or element not in current.model_fields:
                return None
            current = current.model_fields[element].annotation
        elif origin in (Union, UnionType) and element in _TAGS:
            current = _TAGS[str(element)]
        elif origin in (tuple, list):
            current = get_args(current)[0]
        elif origin is dict:
            current = get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None
