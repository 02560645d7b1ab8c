"""`POST /hooks/github`, `/hooks/gitea`, `/hooks/gitlab`: forges' webhooks, proven by signature.

These endpoints take no token: each forge signs its requests with the repository's
webhook secret, and app/services/webhooks.py checks that on the raw body. The answer
comes at once (the work is queued), well within the forges' time limits.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.deps import DatabaseDep, ForgeSignedDep, StoreDep
from app.inputs import CleanStr, printable
from app.services.webhooks import RejectionLimiter, receive_webhook

router = APIRouter(tags=["webhooks"])


def _limiter(request: Request) -> RejectionLimiter:
    """The application's limiter of recorded rejections, made on first use."""
    state = request.app.state
    if getattr(state, "webhook_limiter", None) is None:
        state.webhook_limiter = RejectionLimiter()
    limiter: RejectionLimiter = state.webhook_limiter
    return limiter


@router.post(
    "/hooks/{forge}",
    responses={
        200: {"description": "A ping, or a delivery already received: nothing more to do."},
        202: {"description": "Accepted: the push is recorded and its runs are being queued."},
        401: {"description": "The signature or token does not prove the forge sent it."},
        404: {"description": "No webhook endpoint for that forge (github, gitea, gitlab)."},
        413: {"description": "The body is larger than forges send (25 MiB)."},
    },
)
async def post_hook(
    forge: CleanStr, request: Request, store: StoreDep, database: DatabaseDep, _: ForgeSignedDep
) -> JSONResponse:
    """Receive one webhook delivery from GitHub, Gitea or GitLab (see docs/webhooks.md)."""
    body = await request.body()  # capped as it arrives (app/http_limits.py)
    answer = await run_in_threadpool(
        receive_webhook,
        store,
        database.app_url,
        forge,
        dict(request.headers),
        body,
        client=request.client.host if request.client is not None else "unknown",
        limiter=_limiter(request),
    )
    # printable: the answer may echo what the forge sent (a ref), and that may not encode.
    return JSONResponse(printable(answer.body), status_code=answer.status)
