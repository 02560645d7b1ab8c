"""Delivery questions the ledger answers directly: which deployments a run asked for."""

from __future__ import annotations

from dataclasses import dataclass

from events.store import EventStore
from events.vocabulary import DeploymentRequested


@dataclass(frozen=True)
class RunDeployment:
    """A deployment a run's deploy step asked for: where, and its id."""

    environment: str
    deployment_id: str


def run_deployments(store: EventStore, run_id: str) -> list[RunDeployment]:
    """The deployments the run's deploy steps asked for, in order."""
    requested = store.with_data_value([DeploymentRequested.type_name], "run_id", run_id)
    return [
        RunDeployment(event.stream.partition("-")[2], str(event.data["deployment_id"]))
        for event in requested
    ]
