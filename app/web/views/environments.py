"""The environment pages: what runs now per service, the deployment history, rollbacks, incidents.

A view over app/queries/environments.py: the running images, the newest
deployments, and the incidents recorded for the environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.queries.deployments import Running
from app.queries.environments import environment_history, incidents_in
from app.velocity.records import Deployment, Incident
from app.web.errors import BadParameter, NotFound
from events.store import EventStore

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]*")
HISTORY = 100
INCIDENTS = 100


@dataclass(frozen=True)
class EnvironmentPage:
    """Everything the environment page shows."""

    name: str
    running: list[Running]
    history: list[Deployment]
    more: bool
    incidents: list[Incident]
    more_incidents: bool = False

    @property
    def rollbacks(self) -> list[Deployment]:
        """The deployments of the history that were rolled back, newest first."""
        return [d for d in self.history if d.rolled_back_at is not None]


def environment_page(store: EventStore, name: str) -> EnvironmentPage:
    """The environment page's view of `name`; NotFound when nothing was deployed to it."""
    if not _NAME.fullmatch(name) or len(name) > 190:
        raise BadParameter("environment", f"{name!r} is not an environment name")
    found = environment_history(store, name, limit=HISTORY)
    incidents = incidents_in(store, name)
    if not found.running and not found.history.deployments and not incidents:
        raise NotFound(f"no environment {name!r} is recorded: nothing was deployed to it")
    history = found.history
    return EnvironmentPage(
        name,
        found.running,
        history.deployments,
        history.next is not None,
        incidents[:INCIDENTS],
        len(incidents) > INCIDENTS,
    )
