"""`/signin` and `/signout`: a token (or a one-time link) becomes a session cookie, and back.

The session cookie is HttpOnly (no script reads it) and SameSite=Strict (no
other site's page makes the browser send it); Secure when the server is reached
over HTTPS. The sign-in form carries a CSRF secret of its own (a cookie and a
hidden field that must match), since there is no session yet to derive one from;
signing out needs the session's CSRF token, as every other form does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.credentials import SESSION_COOKIE, SIGNIN_COOKIE, csrf_for, new_secret, same_secret
from app.deps import (
    CSRF_FIELD,
    AnyoneDep,
    SettingsDep,
    StoreDep,
    action_of,
    client_address,
    note_refusal,
    same_origin,
)
from app.inputs import CleanStr
from app.queries.credentials import CredentialRefused, token_credential
from app.services.access import Forbidden, anonymous
from app.services.sessions import NewSession, end_session, redeem_signin_link, start_session
from app.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)
# A link's code or a token must not linger in a Referer or a cache.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
# The form itself: not cached; its post must say it comes from here (under no-referrer
# a browser sends `Origin: null`, which is refused as another site's).
FORM = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin"}
Field = Annotated[CleanStr, Form(max_length=500)]


def local_path(target: str | None) -> str:
    """`target` if it is a path on this server, else `/` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(ch) < 32 for ch in target):
        return "/"
    return target


def signed_in(request: Request, session: NewSession, target: str) -> RedirectResponse:
    """A redirect to `target` that sets the session cookie."""
    response = RedirectResponse(local_path(target), status_code=303, headers=PRIVATE)
    seconds = max(1, int((session.expires_at - datetime.now(UTC)).total_seconds()))
    response.set_cookie(
        SESSION_COOKIE,
        session.secret,
        max_age=seconds,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


def signin_page(
    request: Request, target: str, message: str | None = None, status_code: int = 200
) -> HTMLResponse:
    """The sign-in form with a fresh CSRF secret in a cookie and a hidden field."""
    form_secret = new_secret()
    context = {"title": "Sign in", "form_csrf": form_secret, "next": target, "message": message}
    response = render(request, "signin.html", context, status_code=status_code)
    response.headers.update(FORM)
    response.set_cookie(
        SIGNIN_COOKIE,
        form_secret,
        path="/signin",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/signin", response_class=HTMLResponse)
def signin_form(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    next: CleanStr = "/",
    code: CleanStr | None = None,
) -> Response:
    """The sign-in form; with `code` (the link `shiplog serve` printed), signs in at once."""
    target = local_path(next)
    if code is None:
        return signin_page(request, target)
    session = redeem_signin_link(store, code, timedelta(hours=settings.session_hours))
    if session is None:
        message = (
            "This sign-in link was used already or has expired. Sign in with a token "
            "(`shiplog token create NAME --role admin` makes one)."
        )
        return signin_page(request, target, message, status_code=401)
    return signed_in(request, session, target)


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    _: AnyoneDep,
    token: Field = "",
    csrf_token: Field = "",
    next: Field = "/",
) -> Response:
    """Check the token and the form's CSRF secret; start a session and go on to `next`."""
    target = local_path(next)
    form_secret = request.cookies.get(SIGNIN_COOKIE, "")
    if not same_origin(request) or not form_secret or not same_secret(csrf_token, form_secret):
        message = "The form was too old or came from another site: please sign in again."
        return signin_page(request, target, message, status_code=403)
    try:
        credential = await run_in_threadpool(token_credential, store, token.strip())
    except CredentialRefused as error:
        refusal = Forbidden(anonymous(client_address(request)), (), action_of(request), str(error))
        await run_in_threadpool(note_refusal, request, refusal)
        return signin_page(request, target, f"Not signed in: {error}.", status_code=401)
    session = await run_in_threadpool(
        start_session,
        store,
        credential.actor,
        credential.roles,
        timedelta(hours=settings.session_hours),
        token_id=credential.token_id,
        token_expires_at=credential.expires_at,
    )
    return signed_in(request, session, target)


@router.post("/signout")
async def signout(request: Request, store: StoreDep, _: AnyoneDep) -> Response:
    """End the session (the form must carry its CSRF token); back to the sign-in form."""
    secret = request.cookies.get(SESSION_COOKIE, "")
    form = await request.form()
    given = form.get(CSRF_FIELD)
    if secret and not (isinstance(given, str) and same_secret(given, csrf_for(secret))):
        return signin_page(request, "/", "Not signed out: the form came from elsewhere.", 403)
    if secret:
        await run_in_threadpool(end_session, store, secret)
    response = RedirectResponse("/signin", status_code=303, headers=PRIVATE)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
