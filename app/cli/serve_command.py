"""`shiplog serve`: the HTTP API under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the `serve` command to `app`."""
    app.command("serve")(serve)


def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind; loopback unless you mean to expose it.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8080,
) -> None:
    """Serve the web timeline (/) and the HTTP API (/docs) until Ctrl-C, projections kept live."""
    # Imported here, not at the top: the web stack costs every other command a
    # second of start-up, and only `serve` needs it.
    import uvicorn

    from app.server import create_app

    typer.echo(f"shiplog: web timeline at http://{_url_host(host)}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(create_app(follow=True), host=host, port=port)


def _url_host(host: str) -> str:
    """`host` as it goes into a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host else host
