"""Decisions people record about deliveries: waivers of a gate (approvals, pins follow).

Each is an event in the environment's stream with the deciding actor in its metadata;
who may decide (the `approver` role) is checked by the adapter that authenticated
the actor. The rules about whom a decision counts for are the domain's: a waiver
never counts for a deployment its own grantor asks for (app/delivery/ledger.py).
"""

from __future__ import annotations

from datetime import timedelta

from app.delivery.desk import Desk
from app.delivery.errors import DeliveryError
from app.delivery.gates import GATES
from app.delivery.ledger import Waiver
from events.vocabulary import WaiverGranted

MAX_WAIVER = timedelta(days=30)
"""The longest a waiver may last."""


class InvalidDecision(DeliveryError, ValueError):
    """A decision that cannot be recorded as given (an unknown gate, no reason, ...)."""


def grant_waiver(
    desk: Desk,
    environment: str,
    image_digest: str,
    policy: str,
    reason: str,
    lasts: timedelta,
    actor: str,
) -> Waiver:
    """Let `image_digest` pass gate `policy` of `environment` for `lasts`, as `actor`."""
    config = desk.config.environment(environment)
    if policy not in GATES:
        raise InvalidDecision(f"gate {policy!r} is not one of {', '.join(GATES)}")
    if not reason.strip():
        raise InvalidDecision("a waiver needs a reason")
    if not timedelta(0) < lasts <= MAX_WAIVER:
        raise InvalidDecision(f"a waiver lasts more than 0 s and at most {MAX_WAIVER.days} days")
    granted = WaiverGranted(
        image_digest=image_digest,
        policy=policy,  # type: ignore[arg-type]  # checked against GATES above
        reason=reason.strip(),
        expires_at=desk.now() + lasts,
    )
    desk.record(config.name, [granted], actor)
    return desk.state(config.name).waivers[-1]
