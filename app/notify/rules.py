"""Notification rules, from a YAML file an admin keeps (SHIPLOG_NOTIFY_RULES).

```yaml
rules:
  - name: broken-main
    events: [RunFailed, RunSucceeded]  # event type names; adding one is adding its name
    targets: [team-chat]
    branches: [main]                   # runs of these branches only
  - name: production
    events: [DeploymentSucceeded, DeploymentFailed, RolledBack, CanaryAborted, DriftDetected]
    targets: [team-chat, pager-hook]
    environments: [production]
  - name: critical-in-production
    events: [ScanCompleted]
    targets: [security-hook]
    severity: critical                 # findings this grave or graver
    running_only: true                 # only images that run somewhere
```

A rule fires once per subject and state (app/services/notifications.py says what
those are for each event), unless `every_time`; notices of one rule for one target
within `group_seconds` are grouped into one message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")


class RulesError(ValueError):
    """The rules file cannot be used; the message names the file and the field."""


class Rule(BaseModel):
    """When to tell which targets."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$", description="The rule's name.")
    events: tuple[str, ...] = Field(min_length=1, description="Event type names that fire it.")
    targets: tuple[str, ...] = Field(min_length=1, description="Targets it notifies, by name.")
    branches: tuple[str, ...] = Field(default=(), description="Run events: branch globs.")
    environments: tuple[str, ...] = Field(default=(), description="Environment events: names.")
    severity: Severity = Field(default="critical", description="ScanCompleted: the least grave.")
    running_only: bool = Field(default=True, description="ScanCompleted: running images only.")
    group_seconds: int = Field(default=0, ge=0, le=3600, description="Grouping window.")
    every_time: bool = Field(default=False, description="Fire on every event, not on changes.")


class RulesFile(BaseModel):
    """The whole file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[Rule, ...] = ()


def load_rules(path: Path | None) -> tuple[Rule, ...]:
    """The rules in `path` (none without a path); RulesError names what is wrong and where."""
    if path is None:
        return ()
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as error:
        raise RulesError(f"{path}: cannot be read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise RulesError(f"{path}: not YAML: {error}") from None
    try:
        loaded = RulesFile.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors(include_url=False)
        )
        raise RulesError(f"{path}: {problems}") from None
    names = [rule.name for rule in loaded.rules]
    if len(set(names)) != len(names):
        raise RulesError(f"{path}: two rules share a name")
    return loaded.rules


def at_least(severity: str | None, floor: str) -> bool:
    """Whether a finding's severity is `floor` or graver (no severity never is)."""
    return severity in SEVERITIES and SEVERITIES.index(severity) <= SEVERITIES.index(floor)
