"""Jinja2 set-up for the pages: the templates/ directory, filters, and one render helper."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from app.resources import static_dir, templates_dir

TEMPLATES_DIR = templates_dir()
STATIC_DIR = static_dir()

templates = Jinja2Templates(directory=TEMPLATES_DIR)


def time_element(value: datetime | None) -> Markup:
    """A <time> element: UTC in the text and the datetime attribute; scripts show local time."""
    if value is None:
        return Markup("<span class=muted>—</span>")
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    iso = utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    text = utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup('<time datetime="{0}" title="{1}">{1}</time>').format(iso, text)


def duration(ms: int | float | None) -> str:
    """A duration in milliseconds as people read it: 850 ms, 12.3 s, 4 min 05 s, 2 h 03 min."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{int(ms)} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def short(value: str | None, length: int = 12) -> str:
    """A digest or sha cut to `length` hex characters after any `sha256:` prefix."""
    if not value:
        return ""
    prefix, _, rest = value.rpartition(":")
    return f"{prefix + ':' if prefix else ''}{rest[:length]}"


def status_badge(status: str | None) -> Markup:
    """A status as a labelled badge (colour is never the only signal: the word is there)."""
    word = status or "unknown"
    return Markup('<span class="badge badge-{0}">{0}</span>').format(escape(word))


templates.env.filters["moment"] = time_element
templates.env.filters["duration"] = duration
templates.env.filters["short"] = short
templates.env.filters["badge"] = status_badge


def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """Render template `name` with `context` (plus the request, the query and who asks)."""
    page = {
        "request": request,
        "now": datetime.now(UTC),
        "q": request.query_params.get("q", ""),
        # Who is signed in (app/deps.py puts it on the request), for the page header.
        "principal": getattr(request.state, "principal", None),
        "csrf": getattr(request.state, "csrf", None),
    }
    return templates.TemplateResponse(request, name, page | context, status_code=status_code)
