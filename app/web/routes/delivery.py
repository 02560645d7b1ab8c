"""The pages' delivery buttons: deploy a digest, promote a service (HTML forms, then redirect).

The same commands as the API (app/services/delivery.py) under the same roles
(`deployer` to deploy and promote, `approver` to approve and reject); the rollout
runs after the redirect, and the environment page shows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, BackgroundTasks, Depends, Request, status
from fastapi.responses import RedirectResponse

from app.delivery.decisions import NotAllowed, approve, reject
from app.delivery.errors import (
    DeliveryError,
    NotDeliverable,
    NothingToPromote,
    UnknownEnvironment,
    UnknownService,
)
from app.delivery.requests import DeployAsk, promotion_ask
from app.deps import ApproverDep, DeskDep, RolloutDep
from app.services.delivery import drive, release_pin, request_only, rollback
from app.web.errors import PageError

router = APIRouter(tags=["pages"], include_in_schema=False)
MAX_FORM = 16 * 1024


async def form_fields(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (the last value of each), refusing anything else."""
    body = await request.body()
    if len(body) > MAX_FORM:
        raise PageError(413, "the form is too large")
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=False)
    except UnicodeDecodeError:
        raise PageError(400, "the form is not UTF-8") from None
    return {key: values[-1] for key, values in fields.items()}


Form = Annotated[dict[str, str], Depends(form_fields)]


def field(form: dict[str, str], name: str) -> str:
    """A form field that must be there."""
    value = form.get(name, "").strip()
    if not value:
        raise PageError(400, f"the form has no {name!r}")
    return value


@contextmanager
def as_page() -> Iterator[None]:
    """Delivery's refusals and unknown names as error pages (the API answers them as JSON)."""
    try:
        yield
    except (UnknownEnvironment, UnknownService, NotDeliverable, NothingToPromote) as error:
        raise PageError(404, str(error)) from None
    except NotAllowed as error:
        raise PageError(403, str(error)) from None
    except DeliveryError as error:
        raise PageError(409, str(error)) from None


def to_environment(environment: str) -> RedirectResponse:
    """Back to the environment page (303: the browser follows with GET)."""
    return RedirectResponse(f"/environments/{environment}", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/deliveries")
def deploy_html(
    form: Form, desk: DeskDep, who: RolloutDep, background: BackgroundTasks
) -> RedirectResponse:
    """The image page's button: deliver a digest to `target`, `<environment>/<service>`."""
    environment, _, service = field(form, "target").partition("/")
    ask = DeployAsk(environment, service, field(form, "image_digest"))
    with as_page():
        progress = request_only(desk, ask, who.actor)
    background.add_task(drive, desk, environment, progress.request.deployment_id)
    return to_environment(environment)


@router.post("/environments/{environment}/promote")
def promote_html(
    environment: str, form: Form, desk: DeskDep, who: RolloutDep, background: BackgroundTasks
) -> RedirectResponse:
    """The environment page's button: promote what a required environment runs."""
    with as_page():
        ask = promotion_ask(
            desk, field(form, "service"), field(form, "from_environment"), environment
        )
        progress = request_only(desk, ask, who.actor)
    background.add_task(drive, desk, environment, progress.request.deployment_id)
    return to_environment(environment)


@router.post("/environments/{environment}/deployments/{deployment_id}/approve")
def approve_html(
    environment: str,
    deployment_id: str,
    form: Form,
    desk: DeskDep,
    who: ApproverDep,
    background: BackgroundTasks,
) -> RedirectResponse:
    """The environment page's Approve: the digest and evidence hash the page showed."""
    with as_page():
        approve(
            desk,
            environment,
            deployment_id,
            who.actor,
            image_digest=field(form, "image_digest"),
            evidence_sha256=field(form, "evidence_sha256"),
            comment=form.get("comment") or None,
        )
    background.add_task(drive, desk, environment, deployment_id)
    return to_environment(environment)


@router.post("/environments/{environment}/deployments/{deployment_id}/reject")
def reject_html(
    environment: str, deployment_id: str, form: Form, desk: DeskDep, who: ApproverDep
) -> RedirectResponse:
    """The environment page's Reject, with the reason typed there."""
    with as_page():
        reject(desk, environment, deployment_id, who.actor, reason=field(form, "reason"))
    return to_environment(environment)


@router.post("/environments/{environment}/rollback")
def rollback_html(environment: str, form: Form, desk: DeskDep, who: RolloutDep) -> RedirectResponse:
    """The environment page's Roll back: to the digest chosen, with the reason typed there."""
    with as_page():
        rollback(
            desk,
            environment,
            field(form, "service"),
            who.actor,
            reason=field(form, "reason"),
            to_digest=form.get("to_digest") or None,
        )
    return to_environment(environment)


@router.post("/environments/{environment}/unpin")
def unpin_html(environment: str, form: Form, desk: DeskDep, who: RolloutDep) -> RedirectResponse:
    """The environment page's Unpin."""
    with as_page():
        release_pin(
            desk, environment, field(form, "service"), who.actor, reason=field(form, "reason")
        )
    return to_environment(environment)
