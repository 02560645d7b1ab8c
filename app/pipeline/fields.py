"""Field types of the pipeline file: names, durations, image references, paths and globs."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

Event = Literal["push", "pull_request", "tag", "manual", "api"]
"""What started a run: a VCS push, a pull request, a tag, a person (CLI or web), the API."""

EVENTS: tuple[str, ...] = ("push", "pull_request", "tag", "manual", "api")

Status = Literal["success", "failure"]
"""The state of a step's upstream when it becomes ready: all succeeded, or one failed."""

STATUSES: tuple[str, ...] = ("success", "failure")

Severity = Literal["critical", "high", "medium", "low"]
"""An advisory's severity, gravest first; a scan step's `fail_on` names one."""

RESERVED_KINDS: tuple[str, ...] = ("deploy",)
"""Typed step kinds named by the design but not built yet; a file using them is refused."""

DEFAULT_TIMEOUT = 3600
"""A step's timeout in seconds when the file gives none (one hour)."""

MAX_TIMEOUT = 24 * 3600
"""The longest timeout a step may ask for (one day)."""

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
_DNS_LABEL = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST_PART = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*(?::[0-9]+)?/)"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_REPOSITORY = rf"{_DOMAIN}?{_COMPONENT}(?:/{_COMPONENT})*"
_IMAGE = rf"^{_REPOSITORY}(?::{_TAG})?(?:@sha256:[a-f0-9]{{64}})?$"
USER_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?$"
_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")

StepName = Annotated[str, StringConstraints(pattern=_NAME)]
ServiceName = Annotated[str, StringConstraints(pattern=_DNS_LABEL)]
SecretName = Annotated[str, StringConstraints(pattern=_ENV_NAME)]
EnvName = Annotated[str, StringConstraints(pattern=_ENV_NAME)]
ImageRef = Annotated[str, StringConstraints(pattern=_IMAGE, max_length=512)]
Repository = Annotated[str, StringConstraints(pattern=rf"^{_REPOSITORY}$", max_length=255)]
TagName = Annotated[str, StringConstraints(pattern=rf"^{_TAG}$")]
LabelKey = Annotated[str, StringConstraints(pattern=r"^[^\s=]+$", max_length=255)]
StageName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
TargetName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
Glob = Annotated[str, StringConstraints(min_length=1, max_length=255)]

PATTERN_HELP: dict[str, str] = {
    _NAME: "a name of letters, digits, '.', '_' and '-' that starts with a letter or digit"
    " (at most 63 characters)",
    _ENV_NAME: "a name of letters, digits and '_' that does not start with a digit",
    _DNS_LABEL: "a host name of lowercase letters, digits and '-' (at most 63 characters)",
    _IMAGE: "an image reference like 'postgres:16' or 'registry.example.com/team/app:1.2'"
    " (repository names are lowercase)",
    rf"^{_REPOSITORY}$": "a repository like 'registry.example.com/team/app' (lowercase, no tag)",
    rf"^{_TAG}$": "a tag of letters, digits, '_', '.' and '-' (at most 128 characters)",
    r"^[^\s=]+$": "a label key without spaces or '='",
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*$": "a build stage name",
    USER_PATTERN: "a user name or uid, optionally with ':' and a group",
}
"""What each pattern above asks for, in words, for error messages."""


def _relative_path(value: Any) -> Any:
    """Refuse absolute paths and paths that climb out of the workspace with '..'."""
    if not isinstance(value, str):
        return value
    if not value or value.startswith("/") or "\\" in value:
        raise PydanticCustomError(
            "relative_path", "'{path}' must be a path relative to the workspace", {"path": value}
        )
    if ".." in value.split("/"):
        raise PydanticCustomError(
            "relative_path", "'{path}' must stay inside the workspace (no '..')", {"path": value}
        )
    return value


RelativePath = Annotated[str, BeforeValidator(_relative_path)]


def parse_duration(value: Any) -> Any:
    """Turn "90s", "10m", "1h30m" or an integer number of seconds into seconds."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError(
            "duration_type",
            'expected a duration like "90s", "10m", "1h30m" or a whole number of seconds',
        )
    if isinstance(value, str):
        text = value.strip()
        match = _DURATION.match(text)
        if text.isdigit():
            seconds = int(text)
        elif text and match:
            units = (("h", 3600), ("m", 60), ("s", 1))
            seconds = sum(int(match[unit] or 0) * factor for unit, factor in units)
        else:
            raise PydanticCustomError(
                "duration_format",
                '\'{text}\' is not a duration: write it like "90s", "10m" or "1h30m"',
                {"text": value},
            )
    else:
        seconds = value
    if seconds < 1 or seconds > MAX_TIMEOUT:
        raise PydanticCustomError(
            "duration_range",
            "a timeout must be between 1 second and 24h, not {seconds} seconds",
            {"seconds": seconds},
        )
    return seconds


Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_TIMEOUT},
                {"type": "string", "pattern": r"^(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?$|^[0-9]+$"},
            ]
        }
    ),
]


def _one_or_many(value: Any) -> Any:
    """Let a single item stand for a list of one."""
    return [value] if isinstance(value, str) else value


def _one_or_many_schema(item: dict[str, Any]) -> WithJsonSchema:
    """The JSON Schema of a value given either as one item or as a list of items."""
    return WithJsonSchema({"anyOf": [item, {"type": "array", "items": item}]})


Globs = Annotated[
    tuple[Glob, ...], BeforeValidator(_one_or_many), _one_or_many_schema({"type": "string"})
]
Events = Annotated[
    tuple[Event, ...], BeforeValidator(_one_or_many), _one_or_many_schema({"enum": list(EVENTS)})
]
Statuses = Annotated[
    tuple[Status, ...],
    BeforeValidator(_one_or_many),
    _one_or_many_schema({"enum": list(STATUSES)}),
]
StepNames = Annotated[
    tuple[StepName, ...],
    BeforeValidator(_one_or_many),
    _one_or_many_schema({"type": "string", "pattern": _NAME}),
]


def normalize_image(image: str) -> str:
    """The reference Docker means by `image`: a name without a tag or digest is `:latest`."""
    if "@" in image:
        return image
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last else f"{image}:latest"


def image_tag(image: str) -> str:
    """The tag part of an image reference (`latest` when it has none)."""
    return normalize_image(image).split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[1]


def glob_match(pattern: str, text: str) -> bool:
    """Match `text` against a glob: `*` and `?` stop at '/', `**` crosses it."""
    return _glob_regex(pattern).fullmatch(text) is not None


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a branch glob into a regular expression."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts))
