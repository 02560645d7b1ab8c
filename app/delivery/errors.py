"""Errors of delivery a caller can cause and fix; each adapter turns them into its own answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class DeliveryError(Exception):
    """Something asked of delivery cannot be done as asked; the message says why."""


class UnknownEnvironment(DeliveryError, LookupError):
    """No environment of that name is configured."""


class UnknownService(DeliveryError, LookupError):
    """The environment has no such service, and no settings were given for it."""


class NotDeliverable(DeliveryError, LookupError):
    """The digest cannot be delivered at all: no run of this shiplog pushed it to a registry."""


class UnknownDeployment(DeliveryError, LookupError):
    """No deployment with that id in that environment."""


class DeploymentInProgress(DeliveryError):
    """Another deployment of the service waits or runs; one at a time per service."""


class NotWaiting(DeliveryError):
    """The deployment does not wait for anything any more (it started or ended)."""


class NothingToPromote(DeliveryError, LookupError):
    """The environment to promote from runs nothing for that service."""


@dataclass(frozen=True)
class Refusal:
    """One rule or gate that refused a digest, as PromotionRefused records it."""

    policy: str
    reason: str


class DeploymentRefused(DeliveryError):
    """Rules or gates refused the deployment; each refusal is recorded as PromotionRefused."""

    def __init__(self, environment: str, service: str, digest: str, refusals: Sequence[Refusal]):
        self.environment = environment
        self.service = service
        self.digest = digest
        self.refusals = list(refusals)
        listed = "; ".join(f"{r.policy}: {r.reason}" for r in self.refusals)
        super().__init__(f"{environment} refuses {digest} for {service}: {listed}")
