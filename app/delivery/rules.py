"""Protection rules of an environment, as pure functions of its configuration and the ledger.

A rule either refuses a digest outright (it never succeeded where `requires` says it
must, it can no longer soak there) or makes its deployment wait (approvals still
missing, soak time still running, a freeze window, outside every allow window). A
waiting deployment starts once nothing makes it wait, and expires at `expires_at`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.delivery.environments import DeliveryConfig, Environment
from app.delivery.errors import Refusal
from app.delivery.ledger import EnvironmentState, Request
from app.delivery.windows import in_windows, window_end, window_start


@dataclass(frozen=True)
class Wait:
    """Something a deployment waits for, and when it ends if that is known."""

    rule: str  # `approvals`, `soak`, `freeze`, `allow`
    reason: str
    until: datetime | None = None


def requires_refusals(
    environment: Environment,
    required: Mapping[str, EnvironmentState],
    service: str,
    digest: str,
    now: datetime,
) -> list[Refusal]:
    """Each environment of `requires` where the digest never ran (or can no longer soak)."""
    refusals = []
    for name in environment.requires:
        stints = required[name].service(service).successful_stints(digest)
        if not stints:
            refusals.append(
                Refusal(
                    "requires",
                    f"{digest} has no successful deployment of {service} in {name} that was "
                    "not rolled back",
                )
            )
        elif (
            all(s.until is not None for s in stints)
            and max(s.ran_for(now) for s in stints) < environment.soak
        ):
            longest = max(s.ran_for(now) for s in stints)
            refusals.append(
                Refusal(
                    "soak",
                    f"{digest} ran {longest:.0f} s of the {environment.soak} s soak in {name} "
                    "and was replaced there, so it can no longer soak",
                )
            )
    return refusals


def soak_wait(
    environment: Environment,
    required: Mapping[str, EnvironmentState],
    service: str,
    digest: str,
    now: datetime,
) -> Wait | None:
    """The soak still to run in a required environment where the digest runs now, if any."""
    longest_wait = timedelta(0)
    where = ""
    for name in environment.requires:
        stints = required[name].service(service).successful_stints(digest)
        ran = max((s.ran_for(now) for s in stints), default=0.0)
        remaining = timedelta(seconds=environment.soak - ran)
        if remaining > longest_wait:
            longest_wait, where = remaining, name
    if longest_wait <= timedelta(0):
        return None
    return Wait(
        "soak",
        f"{digest} must run {environment.soak} s in {where} first; "
        f"{longest_wait.total_seconds():.0f} s to go",
        now + longest_wait,
    )


def window_wait(environment: Environment, now: datetime) -> Wait | None:
    """A freeze window `now` falls in, or being outside every allow window; deny wins."""
    zone = environment.zone
    frozen = in_windows(environment.freeze_windows(), now, zone)
    if frozen is not None:
        return Wait(
            "freeze",
            f"{environment.name} is frozen ({frozen.text!r}, {environment.timezone})",
            window_end(environment.freeze_windows(), now, zone),
        )
    allowed = environment.allow_windows()
    if allowed and in_windows(allowed, now, zone) is None:
        return Wait(
            "allow",
            f"{environment.name} deploys only within {', '.join(environment.allow)} "
            f"({environment.timezone})",
            window_start(allowed, now, zone),
        )
    return None


def eligible_approvers(config: DeliveryConfig, environment: Environment) -> frozenset[str] | None:
    """Who may approve here by group membership (None: any holder of the approver role)."""
    groups = environment.approvals.groups
    return config.members(groups) if groups else None


def valid_approvals(
    config: DeliveryConfig, environment: Environment, request: Request
) -> list[str]:
    """The distinct actors whose approvals count for `request`, in order of approval.

    An approval counts if it names the request's digest and evidence hash, comes from
    someone other than who asked, and (with `approvals.groups`) from a group member.
    """
    members = eligible_approvers(config, environment)
    counted: list[str] = []
    for approval in request.approvals:
        if approval.actor == request.requested_by or approval.actor in counted:
            continue
        if approval.image_digest != request.image_digest:
            continue
        if approval.evidence_sha256 != request.evidence_sha256:
            continue
        if members is not None and approval.actor not in members:
            continue
        counted.append(approval.actor)
    return counted


def approval_wait(
    config: DeliveryConfig, environment: Environment, request: Request
) -> Wait | None:
    """The approvals still missing, if any."""
    have = len(valid_approvals(config, environment, request))
    need = request.approvals_required
    if have >= need:
        return None
    groups = environment.approvals.groups
    source = f" from {', '.join(groups)}" if groups else ""
    return Wait("approvals", f"{have} of {need} approval(s){source}, not by {request.requested_by}")
