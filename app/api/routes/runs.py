"""`GET /api/runs`, `/api/runs/{run_id}` and a step's log, from the runs projection."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import PlainTextResponse

from app.api.schemas.runs import RunOut, RunSummaryOut
from app.deps import AsOfDep, StoreDep
from app.inputs import CleanStr
from app.queries.logs import log_page
from app.queries.runs import MAX_LIMIT, Status, get_run, list_runs

router = APIRouter(prefix="/api", tags=["runs"])

DEFAULT_LOG_LINES = 10_000
MAX_LOG_LINES = 100_000
NEXT_LINE_HEADER = "X-Shiplog-Next-Line"


@router.get("/runs")
def get_runs(
    store: StoreDep,
    as_of: AsOfDep,
    status: Annotated[Status | None, Query(description="Only runs in this status.")] = None,
    repository: Annotated[
        CleanStr | None, Query(description="Only runs of this source URL.")
    ] = None,
    commit: Annotated[
        CleanStr | None,
        Query(pattern=r"^[0-9a-fA-F]{4,64}$", description="Only runs of this commit (sha prefix)."),
    ] = None,
    before: Annotated[
        CleanStr | None, Query(description="The last run id of the previous page (keyset).")
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
def get_one_run(run_id: CleanStr, store: StoreDep, as_of: AsOfDep) -> RunOut:
    """A run: status, source, trigger, timings, its steps, and the images it built and pushed."""
    view = get_run(store, run_id, as_of)
    if view is None:
        when = "" if as_of is None else f" as of {as_of}"
        raise HTTPException(404, f"no run {run_id!r} is recorded{when}")
    return RunOut.model_validate(view)


@router.get(
    "/runs/{run_id}/steps/{step}/log",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": f"The lines; when more follow, `{NEXT_LINE_HEADER}` is the number "
            "to pass as `after_line` for the next page."
        },
        404: {"description": "No such run or step, or no log stored for it."},
    },
)
def get_step_log(
    run_id: UUID,
    step: CleanStr,
    store: StoreDep,
    response: Response,
    after_line: Annotated[
        int, Query(ge=0, le=2**31 - 1, description="Only lines after this number.")
    ] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LOG_LINES, description="At most this many lines.")
    ] = DEFAULT_LOG_LINES,
) -> str:
    """A step's stored log (secrets masked), as plain text, one line per line, a page at a time."""
    lines = log_page(store, run_id, step, after_line=after_line, limit=limit + 1)
    if not lines and after_line == 0:
        raise HTTPException(404, f"no log is stored for step {step!r} of run {run_id}")
    if len(lines) > limit:
        lines = lines[:limit]
        response.headers[NEXT_LINE_HEADER] = str(lines[-1].line_no)
    return "".join(f"{line.text}\n" for line in lines)
