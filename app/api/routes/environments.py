"""`GET /api/environments[/{environment}]`: what each service runs now, and the history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.api.params import KEYSET_ANSWER, KeysetDep, keyset_page
from app.api.schemas.deployments import (
    DeploymentOut,
    EnvironmentOut,
    EnvironmentRunningOut,
    RunningOut,
)
from app.deps import AsOfDep, StoreDep
from app.inputs import CleanStr
from app.queries.deployments import MAX_LIMIT
from app.queries.environments import all_running, environment_history

router = APIRouter(prefix="/api", tags=["deployments"])


@router.get(
    "/environments",
    response_model=list[EnvironmentRunningOut],
    responses=KEYSET_ANSWER,
)
def list_environments(
    store: StoreDep,
    as_of: AsOfDep,
    response: Response,
    page: KeysetDep,
) -> list[EnvironmentRunningOut]:
    """Environments with a deployment, by name, and what each of their services runs."""
    found = list(all_running(store, as_of, after=page.after, limit=page.limit + 1).items())
    found = keyset_page(found, page.limit, response, key=lambda item: item[0])
    return [
        EnvironmentRunningOut(
            environment=env, running=[RunningOut.model_validate(r) for r in running]
        )
        for env, running in found
    ]


@router.get("/environments/{environment}", response_model=EnvironmentOut)
def get_environment(
    store: StoreDep,
    as_of: AsOfDep,
    environment: Annotated[
        CleanStr, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="e.g. `production`.")
    ],
    service: Annotated[CleanStr | None, Query(description="Only this service's history.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="History rows.")] = 50,
    after: Annotated[
        int | None,
        Query(ge=0, le=2**63 - 1, description="`next` of a previous answer: older history."),
    ] = None,
) -> EnvironmentOut:
    """Each service's running image (and since when), and the deployments, newest first."""
    view = environment_history(
        store, environment, service=service, as_of=as_of, limit=limit, after=after
    )
    return EnvironmentOut(
        environment=environment,
        as_of=None if as_of is None else str(as_of),
        running=[RunningOut.model_validate(r) for r in view.running],
        history=[DeploymentOut.model_validate(d) for d in view.history.deployments],
        next=None if view.history.next is None else str(view.history.next),
    )
