"""How the API answers errors a caller caused: JSON with the status that says what kind.

A ledger error (a bad stream name, an event too large) is 400; a command's field
that cannot be recorded and a query parameter that names nothing known are the
same 422 FastAPI gives for a malformed request, naming the field; a request the
ledger already contradicts is 409. Never a 500 for a caller's mistake.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.delivery.decisions import InvalidDecision, NotAllowed
from app.delivery.environments import EnvironmentsError
from app.delivery.errors import (
    DeliveryError,
    DeploymentRefused,
    NotDeliverable,
    NothingToPromote,
    UnknownDeployment,
    UnknownEnvironment,
    UnknownService,
)
from app.delivery.orchestrator import OrchestratorError
from app.deps import refusal_response
from app.http_errors import error_json, validation_json
from app.queries.errors import InvalidParameter
from app.services.access import Forbidden
from app.services.errors import Conflict, FieldProblem, NotRegistered
from events.errors import LedgerError


async def ledger_error(request: Request, error: Exception) -> JSONResponse:
    """A ledger error a caller caused: 400 with its message, never a 500."""
    return error_json(400, str(error))


async def field_problem(request: Request, error: Exception) -> JSONResponse:
    """A request field that cannot be recorded: the same 422 FastAPI gives, naming the field."""
    assert isinstance(error, FieldProblem)
    detail = {
        "type": "value_error",
        "loc": ("body", error.field),
        "msg": str(error),
        "input": error.value,
    }
    return validation_json(RequestValidationError([detail]))


async def invalid_parameter(request: Request, error: Exception) -> JSONResponse:
    """A query parameter that names nothing known: the same 422 FastAPI gives, naming it."""
    assert isinstance(error, InvalidParameter)
    detail = {"type": "value_error", "loc": ("query", error.parameter), "msg": str(error)}
    return validation_json(RequestValidationError([detail]))


async def forbidden(request: Request, error: Exception) -> JSONResponse:
    """No good credential (401, with a Bearer challenge) or not the role it needs (403)."""
    assert isinstance(error, Forbidden)
    return refusal_response(error)


async def conflict(request: Request, error: Exception) -> JSONResponse:
    """A request the ledger already contradicts: 409 with the reason."""
    return error_json(409, str(error))


# Delivery errors by kind: what names nothing known is a 404, what the rules or the
# ledger refuse a 409, a broken environments file or an unreachable swarm the server's.
_DELIVERY_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (UnknownEnvironment, 404),
    (UnknownService, 404),
    (UnknownDeployment, 404),
    (NotDeliverable, 404),
    (NothingToPromote, 404),
    (NotAllowed, 403),
    (DeploymentRefused, 409),
    (DeliveryError, 409),
)


async def delivery_error(request: Request, error: Exception) -> JSONResponse:
    """A delivery request that cannot be done as asked: 404, or 409 (refusals listed)."""
    if isinstance(error, InvalidDecision):  # the same 422 FastAPI gives, naming the field
        where = ("body",) if error.field is None else ("body", error.field)
        problem = {"type": "value_error", "loc": where, "msg": str(error), "input": None}
        return validation_json(RequestValidationError([problem]))
    code = next(code for kind, code in _DELIVERY_STATUS if isinstance(error, kind))
    if isinstance(error, DeploymentRefused):
        refusals = [{"policy": r.policy, "reason": r.reason} for r in error.refusals]
        return error_json(code, str(error), refusals=refusals)
    return error_json(code, str(error))


async def environments_unusable(request: Request, error: Exception) -> JSONResponse:
    """The environments file cannot be read: 503 naming each problem, for the operator."""
    return error_json(503, f"the environments file is refused: {error}")


async def orchestrator_unusable(request: Request, error: Exception) -> JSONResponse:
    """The swarm refused or did not answer: 502 with its reason."""
    return error_json(502, str(error))


async def not_registered(request: Request, error: Exception) -> JSONResponse:
    """A command naming something that is not there: 404 with what."""
    return error_json(404, str(error))


def install_api_errors(app: FastAPI) -> None:
    """Register the API's error handlers on `app`."""
    app.add_exception_handler(LedgerError, ledger_error)
    app.add_exception_handler(FieldProblem, field_problem)
    app.add_exception_handler(Conflict, conflict)
    app.add_exception_handler(NotRegistered, not_registered)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(InvalidParameter, invalid_parameter)
    app.add_exception_handler(DeliveryError, delivery_error)
    app.add_exception_handler(EnvironmentsError, environments_unusable)
    app.add_exception_handler(OrchestratorError, orchestrator_unusable)
