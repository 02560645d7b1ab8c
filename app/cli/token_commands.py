"""API tokens: `shiplog token create|list|revoke`, as the OS user on the database's host."""

from __future__ import annotations

from typing import Annotated

import typer

from app.context import open_store, prepare
from app.queries.credentials import list_tokens
from app.services.access import Role, parse_roles
from app.services.errors import FieldProblem
from app.services.tokens import create_token, expiry, revoke_tokens

ROLE_HELP = (
    "A role the token holds; repeat for several: "
    + ", ".join(role.value for role in Role)
    + " (docs/security.md says what each may do)."
)


def register(app: typer.Typer) -> None:
    """Add the `token` command group to `app`."""
    token_app = typer.Typer(
        help="API tokens: who may use the HTTP API and the pages, and as what.",
        no_args_is_help=True,
    )
    token_app.command("create")(token_create)
    token_app.command("list")(token_list)
    token_app.command("revoke")(token_revoke)
    app.add_typer(token_app, name="token")


def token_create(
    name: Annotated[
        str,
        typer.Argument(help="The token's name: the actor of everything done with it, e.g. ci."),
    ],
    role: Annotated[list[str], typer.Option("--role", "-r", help=ROLE_HELP)],
    expires: Annotated[
        str | None,
        typer.Option(help="When it stops working: an age (90d, 12w, 36h) or an ISO time."),
    ] = None,
) -> None:
    """Make a token and print its secret, once: it is stored only as a hash."""
    try:
        roles = parse_roles(role)
        expires_at = None if expires is None else expiry(expires)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--role/--expires") from None
    context = prepare()
    try:
        with open_store(context) as store:
            made = create_token(
                store, name, roles, context.settings.whoami(), expires_at=expires_at
            )
    except FieldProblem as error:
        raise typer.BadParameter(str(error), param_hint=error.field) from None
    until = "until revoked" if made.expires_at is None else f"until {made.expires_at.isoformat()}"
    typer.echo(
        f"token {made.name} ({', '.join(made.roles)}; {until}), id {made.token_id}", err=True
    )
    typer.echo(
        "its secret follows, shown this once: send it as `Authorization: Bearer <secret>`", err=True
    )
    typer.echo(made.secret)


def token_list(
    all_: Annotated[bool, typer.Option("--all", help="Show revoked tokens too.")] = False,
) -> None:
    """List the tokens: id, name, roles, state, expiry, who made them (never a secret)."""
    with open_store(prepare()) as store:
        found = list_tokens(store, include_revoked=all_)
    if not found:
        typer.echo("no tokens" + ("" if all_ else " (shiplog token create NAME --role ROLE)"))
        return
    for token in found:
        state = "live" if token.live else ("revoked" if token.revoked_at else "expired")
        until = token.expires_at.isoformat() if token.expires_at else "never"
        typer.echo(
            f"{token.token_id}  {token.name}  {','.join(token.roles)}  {state}  "
            f"expires {until}  made by {token.created_by} at {token.created_at.isoformat()}"
        )


def token_revoke(
    name_or_id: Annotated[
        str, typer.Argument(help="A token's name (revokes every live token of it) or its id.")
    ],
) -> None:
    """Revoke tokens: they, and the web sessions signed in with them, stop working at once."""
    context = prepare()
    with open_store(context) as store:
        count = revoke_tokens(store, name_or_id, context.settings.whoami())
    if count == 0:
        typer.echo(f"no live token is named {name_or_id!r} or has that id", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {count} token{'s' if count != 1 else ''} of {name_or_id}")
