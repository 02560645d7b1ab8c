"""`shiplog serve`: the web timeline and the HTTP API under uvicorn.

The newcomer's path stays two commands (`make demo`, then open the link): while
no API token exists, serving on a loopback address prints a one-time sign-in
link that makes the browser an admin session of the OS user who started the
server, as Jupyter prints its token URL. Without tokens, a non-loopback address
is refused: anyone who reaches it could not be told apart from anyone else.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Annotated

import typer

from app.config import Settings, get_settings
from app.context import open_store, prepare
from app.queries.credentials import live_tokens
from app.services.access import Role
from app.services.sessions import LINK_LIFETIME, create_signin_link

UNSPECIFIED = ("0.0.0.0", "::", "")


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

    settings = serving_settings(get_settings(), host)
    context = prepare(settings)
    with open_store(context) as store:
        tokens = live_tokens(store)
        if tokens == 0 and not is_loopback(host):
            typer.echo(
                f"shiplog: refusing to serve on {host} while no API token exists: a sign-in "
                "link printed for an address others can reach is a key left in the door. "
                "Make a token first (`shiplog token create NAME --role admin`) and sign in "
                "with it, or serve on 127.0.0.1 and use the one-time link printed then.",
                err=True,
            )
            raise typer.Exit(2)
        code = None
        if tokens == 0:
            code = create_signin_link(store, settings.whoami(), frozenset({Role.ADMIN}))
    base = f"http://{_url_host(host)}:{port}"
    typer.echo(f"shiplog: web timeline at {base}/ (Ctrl-C stops it)")
    if code is not None:
        hours = int(LINK_LIFETIME.total_seconds() // 3600)
        typer.echo(
            f"shiplog: no API token exists yet. Sign in as {settings.whoami()} (admin) with "
            f"this one-time link, good for {hours} h:\n\n    {base}/signin?code={code}\n"
        )
    else:
        typer.echo(f"shiplog: sign in at {base}/signin with an API token (shiplog token list)")
    typer.echo(f"shiplog: answering to the host names {', '.join(settings.allowed_hosts)}")
    uvicorn.run(create_app(settings, follow=True), host=host, port=port)


def is_loopback(host: str) -> bool:
    """True if `host` is a loopback address (or `localhost`)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serving_settings(settings: Settings, host: str) -> Settings:
    """`settings` whose allowed host names include the address served on.

    On every address at once (0.0.0.0, ::), this machine's names are added; put
    any other name people reach it by in SHIPLOG_ALLOWED_HOSTS.
    """
    names = list(settings.allowed_hosts)
    if host in UNSPECIFIED:
        extra = [socket.gethostname(), socket.getfqdn()]
    else:
        extra = [f"[{host}]" if ":" in host else host]
    for name in extra:
        if name.lower() not in names:
            names.append(name.lower())
    return settings.model_copy(update={"allowed_hosts": tuple(names)})


def _url_host(host: str) -> str:
    """`host` as it goes into a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host else host
