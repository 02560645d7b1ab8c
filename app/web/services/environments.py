"""The environment pages: what runs now per service, the deployment history, rollbacks, incidents.

A view over the deployments projection (app/api/services/environments and
app/queries/deployments): the running images, the newest deployments, and the
incidents recorded for the environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.api.services.environments import environment_view as api_environment_view
from app.queries import deployments as q
from app.velocity.records import Deployment, Incident
from app.web.errors import BadParameter, NotFound
from events.store import EventStore

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]*")
HISTORY = 100


@dataclass(frozen=True)
class EnvironmentView:
    """Everything the environment page shows."""

    name: str
    running: list[q.Running]
    history: list[Deployment]
    more: bool
    incidents: list[Incident]

    @property
    def rollbacks(self) -> list[Deployment]:
        """The deployments of the history that were rolled back, newest first."""
        return [d for d in self.history if d.rolled_back_at is not None]


def environment_list(store: EventStore) -> list[str]:
    """Every environment with at least one deployment."""
    with store.connection() as conn:
        return q.environments(conn)


def environment_view(store: EventStore, name: str) -> EnvironmentView:
    """The environment page's view of `name`; NotFound when nothing was deployed to it."""
    if not _NAME.fullmatch(name) or len(name) > 190:
        raise BadParameter("environment", f"{name!r} is not an environment name")
    view = api_environment_view(store, name, limit=HISTORY)
    with store.connection() as conn:
        incidents = [i for i in q.incidents(conn) if i.environment == name]
    if not view.running and not view.history.deployments and not incidents:
        raise NotFound(f"no environment {name!r} is recorded: nothing was deployed to it")
    incidents.sort(key=lambda i: (i.opened_at is None, i.opened_at), reverse=True)
    return EnvironmentView(
        name, view.running, view.history.deployments, view.history.next is not None, incidents
    )
