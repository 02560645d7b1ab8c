"""Jinja2 set-up for the pages: the templates/ directory, filters, and one render helper."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from app.resources import static_dir, templates_dir
from app.web.idents import ident_parts

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


def duration(ms: object) -> str:
    """A duration in milliseconds as people read it: 850 ms, 12.3 s, 4 min 05 s, 2 h 03 min."""
    if not isinstance(ms, int | float):
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


def ident(value: str | None, href: str | None = None, copy: bool = True) -> Markup:
    """A digest, sha, run id or long name as templates/_ident.html shows it (— when absent)."""
    if not value:
        return Markup('<span class="muted">—</span>')
    parts = ident_parts(str(value))
    macro = templates.env.get_template("_ident.html").module.ident  # type: ignore[attr-defined]
    return Markup(macro(parts, href=href, label=parts.label, copy=copy))


def ident_text(value: str | None) -> str:
    """An identifier cut as `ident` cuts it, as plain text, where no markup may go (options)."""
    if not value:
        return "—"
    parts = ident_parts(str(value))
    return parts.head + ("…" if parts.middle else "") + parts.tail


def image_link(digest: str | None) -> Markup:
    """An image digest or id, linked to its image page."""
    return ident(digest, f"/images/{digest}") if digest else ident(None)


def run_link(run_id: str | None) -> Markup:
    """A run id, linked to its run page."""
    return ident(run_id, f"/runs/{run_id}") if run_id else ident(None)


def environment_link(name: str | None) -> Markup:
    """An environment's name, linked to its page."""
    if not name:
        return ident(None)
    return Markup('<a href="/environments/{0}">{1}</a>').format(quote(name, safe=""), name)


def ref_name(ref: str | None) -> str:
    """A git ref as people say it: `main` for refs/heads/main, `tag v1` for refs/tags/v1."""
    if not ref:
        return ""
    if ref.startswith("refs/heads/"):
        return ref.removeprefix("refs/heads/")
    if ref.startswith("refs/tags/"):
        return "tag " + ref.removeprefix("refs/tags/")
    return ref


def plural(count: int | None, noun: str, many: str | None = None) -> str:
    """`1 package`, `3 packages` (`many` for irregular plurals)."""
    number = count or 0
    return f"{number} {noun if number == 1 else many or noun + 's'}"


def status_badge(status: str | None) -> Markup:
    """A status as a labelled badge (colour is never the only signal: the word is there)."""
    word = status or "unknown"
    return Markup('<span class="badge badge-{0}">{0}</span>').format(escape(word))


templates.env.filters["moment"] = time_element
templates.env.filters["duration"] = duration
templates.env.filters["badge"] = status_badge
templates.env.filters["ident"] = ident
templates.env.filters["ident_text"] = ident_text
templates.env.filters["plural"] = plural
templates.env.filters["image_link"] = image_link
templates.env.filters["run_link"] = run_link
templates.env.filters["environment_link"] = environment_link
templates.env.filters["ref_name"] = ref_name


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
