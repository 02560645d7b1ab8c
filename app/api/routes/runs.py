"""`GET /api/runs`, `/api/runs/{run_id}` and a step's log, from the runs projection."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse

from app.api.schemas.runs import RunOut, RunSummaryOut
from app.deps import AsOfDep, StoreDep
from app.queries.logs import read_log
from app.queries.runs import MAX_LIMIT, Status, get_run, list_runs

router = APIRouter(prefix="/api", tags=["runs"])


@router.get("/runs")
def get_runs(
    store: StoreDep,
    as_of: AsOfDep,
    status: Annotated[Status | None, Query(description="Only runs in this status.")] = None,
    repository: Annotated[str | None, Query(description="Only runs of this source URL.")] = None,
    commit: Annotated[
        str | None,
        Query(pattern=r"^[0-9a-fA-F]{4,64}$", description="Only runs of this commit (sha prefix)."),
    ] = None,
    before: Annotated[
        str | None, Query(description="The last run id of the previous page (keyset).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = 50,
) -> list[RunSummaryOut]:
    """Runs newest first, filtered, a page at a time."""
    found = list_runs(
        store,
        status=status,
        repository=repository,
        commit=commit,
        before=before,
        limit=limit,
        as_of=as_of,
    )
    return [RunSummaryOut.model_validate(run) for run in found]


@router.get("/runs/{run_id}", responses={404: {"description": "No such run (then)."}})
def get_one_run(run_id: str, store: StoreDep, as_of: AsOfDep) -> RunOut:
    """A run: status, source, trigger, timings, its steps, and the images it built and pushed."""
    view = get_run(store, run_id, as_of)
    if view is None:
        when = "" if as_of is None else f" as of {as_of}"
        raise HTTPException(404, f"no run {run_id!r} is recorded{when}")
    return RunOut.model_validate(view)


@router.get(
    "/runs/{run_id}/steps/{step}/log",
    response_class=PlainTextResponse,
    responses={404: {"description": "No such run or step, or no log stored for it."}},
)
def get_step_log(
    run_id: UUID,
    step: str,
    store: StoreDep,
    after_line: Annotated[int, Query(ge=0, description="Only lines after this number.")] = 0,
    limit: Annotated[int | None, Query(ge=1, le=100_000, description="At most this many.")] = None,
) -> str:
    """A step's stored log (secrets masked), as plain text, one line per line."""
    lines = read_log(store.conninfo, run_id, step, after_line=after_line, limit=limit)
    if not lines and after_line == 0:
        raise HTTPException(404, f"no log is stored for step {step!r} of run {run_id}")
    return "".join(f"{line.text}\n" for line in lines)
