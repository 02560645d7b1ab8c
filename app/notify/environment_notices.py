"""What a notice about an environment's event says: the decision in a line a person reads.

Deployment outcomes, approvals waiting, canaries aborted and drift are what people want
pushed to them; each gets its own title, so a chat message says "production: web waits
for 1 approval of sha256:8f88752…" rather than listing fields. Other environment events
get a title from their type name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Data = Mapping[str, Any]


def _short(digest: object) -> str:
    """A digest as the pages cut it: algorithm and 7 hex digits."""
    text = str(digest or "?")
    return text[: text.index(":") + 8] + "…" if ":" in text else text[:12]


def _requested(data: Data) -> str:
    needed = int(data.get("approvals_required") or 0)
    what = _short(data.get("image_digest"))
    if needed:
        return f"{data['service']} waits for {needed} approval{'s' * (needed != 1)} of {what}"
    return f"{data['service']} asked to run {what}"


def _drift(data: Data) -> str:
    return f"{data['service']} drifted from the ledger ({', '.join(data.get('differences', []))})"


_TITLES: dict[str, Callable[[Data], str]] = {
    "DeploymentRequested": _requested,
    "DeploymentSucceeded": lambda d: f"{d['service']} now runs {_short(d['image_digest'])}",
    "DeploymentFailed": lambda d: f"deployment to {d['service']} failed: {d['reason']}",
    "DeploymentTimedOut": lambda d: (
        f"{d['service']}: {_short(d['image_digest'])} withdrawn, "
        f"still waiting for {', '.join(d.get('waiting_for', [])) or 'nothing'}"
    ),
    "PromotionRefused": lambda d: (
        f"{d['service']} refused {_short(d['image_digest'])} ({d['policy']}): {d['reason']}"
    ),
    "ApprovalRejected": lambda d: (
        f"{_short(d['image_digest'])} for {d['service']} rejected: {d['reason']}"
    ),
    "RolledBack": lambda d: (
        f"{d['service']} rolled back to {_short(d['image_digest'])}"
        + (f": {d['reason']}" if d.get("reason") else "")
    ),
    "RollbackFailed": lambda d: f"rollback of {d['service']} failed: {d['reason']}",
    "CanaryAborted": lambda d: (
        f"canary of {_short(d['image_digest'])} in {d['service']} "
        f"aborted at step {d['step']}: {d['reason']}"
    ),
    "CanaryPromoted": lambda d: f"canary of {_short(d['image_digest'])} promoted in {d['service']}",
    "DriftDetected": _drift,
    "DriftResolved": lambda d: f"{d['service']} matches the ledger again ({d['how']})",
}


def environment_title(environment: str, type_name: str, data: Data) -> str:
    """The notice's title for an event of `env-<environment>`."""
    title = _TITLES.get(type_name)
    service = data.get("service")
    if title is None:
        return f"{type_name} in {environment}" + (f": {service}" if service else "")
    try:
        return f"{environment}: {title(data)}"
    except KeyError:  # an older payload without a field: say what kind of event it was
        return f"{type_name} in {environment}" + (f": {service}" if service else "")
