"""The stages of a Dockerfile, as far as provenance needs them: what each one is built FROM.

Reads parser directives (`# escape=`), line continuations and comments as the Docker
builder does, the global `ARG`s before the first `FROM` (their defaults overridden by
build arguments), and each `FROM [--platform=...] image [AS name]`, substituting `$VAR`,
`${VAR}`, `${VAR:-default}` and `${VAR:+alternative}` from those global ARGs. A `FROM`
naming an earlier stage is a stage reference, not an image; `scratch` is no image at all.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

SCRATCH = "scratch"

_DIRECTIVE = re.compile(r"^#\s*([A-Za-z][A-Za-z0-9]*)\s*=\s*(.*?)\s*$")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_VARIABLE = re.compile(
    rf"\$(?:\{{(?P<braced>{_NAME})(?:(?P<op>:[-+])(?P<word>[^}}]*))?\}}|(?P<plain>{_NAME}))"
)


class DockerfileError(ValueError):
    """The Dockerfile cannot be read as far as its FROM lines go."""


@dataclass(frozen=True)
class Stage:
    """One `FROM`: the image (after ARG substitution), its stage name, and the stage it extends."""

    index: int
    base: str
    name: str | None
    parent: int | None  # the index of the earlier stage named by `base`, if any
    line: int

    @property
    def external(self) -> bool:
        """Whether the base is an image from the engine (not a stage and not scratch)."""
        return self.parent is None and self.base.lower() != SCRATCH


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, joined text) of each instruction, comments and continuations handled."""
    physical = text.splitlines()
    escape = "\\"
    start = 0
    for number, line in enumerate(physical):
        match = _DIRECTIVE.match(line)
        if not match:
            break
        if match.group(1).lower() == "escape":
            if match.group(2) not in ("\\", "`"):
                raise DockerfileError(f"line {number + 1}: invalid escape character")
            escape = match.group(2)
        start = number + 1
    pending: list[str] = []
    first = 0
    for number in range(start, len(physical)):
        line = physical[number]
        stripped = line.strip()
        if stripped.startswith("#") or (pending and not stripped):
            continue  # comments, and blank lines inside a continued instruction, are dropped
        if not pending:
            first = number + 1
        body = line.rstrip()
        if body.endswith(escape):
            pending.append(body[: -len(escape)])
            continue
        pending.append(line)
        joined = "".join(pending).strip()
        pending = []
        if joined:
            yield first, joined
    if pending and "".join(pending).strip():
        yield first, "".join(pending).strip()


def substitute(word: str, variables: Mapping[str, str | None]) -> str:
    """Expand `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alternative}`; unset is empty."""

    def expand(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        value = variables.get(name)
        op = match.group("op")
        if op == ":-":
            return value if value else substitute(match.group("word"), variables)
        if op == ":+":
            return substitute(match.group("word"), variables) if value else ""
        return value or ""

    return _VARIABLE.sub(expand, word)


def _declare_args(
    rest: str, line: int, declared: dict[str, str | None], given: Mapping[str, str]
) -> None:
    """Add the names of a global `ARG` line, each with its build-argument value or default."""
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise DockerfileError(f"line {line}: ARG: {exc}") from None
    for word in words:
        name, has_default, default = word.partition("=")
        if not re.fullmatch(_NAME, name):
            raise DockerfileError(f"line {line}: ARG: invalid name {name!r}")
        if name in given:
            declared[name] = given[name]
        else:
            declared[name] = substitute(default, declared) if has_default else None


def parse_stages(text: str, build_args: Mapping[str, str]) -> list[Stage]:
    """Every `FROM` of the Dockerfile `text`, in order; DockerfileError if there is none."""
    declared: dict[str, str | None] = {}
    stages: list[Stage] = []
    names: dict[str, int] = {}
    for line, instruction in _logical_lines(text):
        keyword, _, rest = instruction.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            _declare_args(rest.strip(), line, declared, build_args)
        elif keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            flags = [w for w in rest.split() if w.startswith("--")]
            unknown = [f for f in flags if not f.lower().startswith("--platform=")]
            if (
                unknown
                or len(words) not in (1, 3)
                or (len(words) == 3 and words[1].upper() != "AS")
            ):
                raise DockerfileError(
                    f"line {line}: expected 'FROM [--platform=...] image [AS name]', "
                    f"got {instruction!r}"
                )
            base = substitute(words[0], declared)
            if not base:
                raise DockerfileError(
                    f"line {line}: FROM {words[0]} names no image (an ARG is empty)"
                )
            name = words[2].lower() if len(words) == 3 else None
            parent = names.get(base.lower())
            stages.append(Stage(len(stages), base, name, parent, line))
            if name is not None:
                names[name] = len(stages) - 1
        elif not stages:
            raise DockerfileError(f"line {line}: {keyword} before the first FROM")
    if not stages:
        raise DockerfileError("no FROM instruction")
    return stages


def stages_to_build(stages: list[Stage], target: str | None) -> list[Stage]:
    """The stages the builder runs: all of them, or those up to and including `target`."""
    if target is None:
        return stages
    for stage in stages:
        if stage.name == target.lower():
            return stages[: stage.index + 1]
    known = ", ".join(s.name for s in stages if s.name) or "none"
    raise DockerfileError(f"target stage {target!r} is not in the Dockerfile (stages: {known})")


def root_base(stages: list[Stage], stage: Stage) -> Stage:
    """The stage whose FROM is an image (or scratch) that `stage` ultimately extends."""
    while stage.parent is not None:
        stage = stages[stage.parent]
    return stage


def secret_mounts(text: str) -> dict[str, int]:
    """The ids of the BuildKit secret mounts (`RUN --mount=type=secret,id=...`), each with the
    line of its first use. An id left out is the base name of the mount's target, as BuildKit
    reads it."""
    used: dict[str, int] = {}
    for line, instruction in _logical_lines(text):
        keyword, _, rest = instruction.partition(" ")
        if keyword.upper() != "RUN":
            continue
        for word in rest.split():
            if not word.startswith("--"):
                break  # the flags come before the command
            flag, _, value = word[2:].partition("=")
            if flag.lower() != "mount":
                continue
            options = dict(part.partition("=")[::2] for part in value.split(","))
            if options.get("type") != "secret":
                continue
            target = options.get("target") or options.get("dst") or options.get("destination")
            mount_id = options.get("id") or (
                target.rstrip("/").rsplit("/", 1)[-1] if target else ""
            )
            if mount_id:
                used.setdefault(mount_id, line)
    return used
