"""The HTTP API: JSON (and CSV) over the ledger, one router per resource under routes/.

Handlers parse the request, call a command in app/services or a question in
app/queries with the principal app/deps.py bound, and shape the answer with a model
from schemas/. `install_api(app)` adds the routers and the API's error handlers.
Every router but the probes', whoami's and the forges' webhooks' reads behind
`read_access` (the `viewer` role, unless public read is on); each write names the
roles it needs with `require`; a webhook is proven by its forge's signature instead.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.api.errors import install_api_errors
from app.api.routes import (
    affected,
    cdevents,
    delivery,
    deployment_audit,
    deployments,
    environments,
    events,
    health,
    hooks,
    images,
    incidents,
    notifications,
    provenance,
    repositories,
    reproductions,
    runs,
    sboms,
    velocity,
    whoami,
)
from app.deps import ACCESS_RESPONSES, CREDENTIAL_RESPONSE, READ_ACCESS

ROUTERS = (
    events,
    deployments,
    delivery,
    incidents,
    images,
    runs,
    environments,
    deployment_audit,
    velocity,
    cdevents,
    reproductions,
    notifications,
    provenance,
    repositories,
    sboms,
    affected,
)


# Every route answers a ledger error it causes (a bad stream name, an event too large)
# with 400 (app/api/errors.py), so every route's document says so.
LEDGER_ERROR_RESPONSE: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "The request names something the ledger refuses (a malformed stream "
        "name, an event too large); `detail` says what.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"detail": {"type": "string"}},
                    "required": ["detail"],
                }
            }
        },
    }
}


def install_api(app: FastAPI) -> None:
    """Add the API's routers and error handlers to `app`."""
    install_api_errors(app)
    # Probes answer anyone; whoami anyone with a good credential or none; forges'
    # webhooks are proven by their signature.
    for module in (health, hooks):
        app.include_router(module.router, responses=LEDGER_ERROR_RESPONSE)
    app.include_router(whoami.router, responses=LEDGER_ERROR_RESPONSE | CREDENTIAL_RESPONSE)
    for module in ROUTERS:
        app.include_router(
            module.router,
            dependencies=READ_ACCESS,
            responses=LEDGER_ERROR_RESPONSE | ACCESS_RESPONSES,
        )
