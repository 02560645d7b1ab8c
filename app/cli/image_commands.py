"""`shiplog image DIGEST` and `shiplog images`: how an image was made, and the reverse questions."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from app.cli.ages import parse_age
from app.cli.as_of_option import AsOfOption, as_of_option
from app.context import open_store, prepare
from app.engine import connect
from app.projections import projector
from app.queries.errors import NotRecorded
from app.queries.images import (
    MAX_LIMIT,
    ImageFacts,
    Page,
    find_image,
    images_from_commit,
    images_on_base,
    images_with_label,
)
from app.services.images import prune_images
from events.catalogue import Metadata
from events.store import Cursor

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def register(app: typer.Typer) -> None:
    """Add `image` and `images` to `app`."""
    app.command("image")(image)
    app.command("images")(images)


def _json(value: Any) -> str:
    """A dataclass (or list of them) as indented JSON; times in ISO 8601."""
    plain = (
        [dataclasses.asdict(item) for item in value]
        if isinstance(value, list)
        else dataclasses.asdict(value)
    )
    return json.dumps(plain, indent=2, default=str)


def image(
    digest: Annotated[str, typer.Argument(help="Image id or pushed manifest digest, sha256:…")],
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what an image was built from, its labels, tests and where it was pushed."""
    with open_store(prepare()) as store:
        projector(store).catch_up_all()
        cursor = as_of_option(store, as_of)
        facts = find_image(store, digest, cursor)
    if facts is None:
        when = "" if cursor is None else f" as of {cursor}"
        raise NotRecorded(f"no image with id or pushed digest {digest!r} is recorded{when}")
    typer.echo(_json(facts) if as_json else _describe(facts))


def _describe(facts: ImageFacts) -> str:
    """The facts as a few aligned lines."""
    lines = [
        f"image       {facts.image_id}",
        f"built by    run {facts.run_id}, step {facts.step!r}, at {facts.built_at.isoformat()}",
        f"source      {facts.repository} @ {facts.commit} ({facts.ref})",
        f"pipeline    {facts.pipeline_path} (trigger {facts.trigger}, by {facts.actor})",
        f"dockerfile  sha256:{facts.dockerfile_sha256}",
        f"context     {facts.context_digest}",
    ]
    lines += [f"base        {base.name} = {base.digest}" for base in facts.base_images]
    lines += [f"build arg   {name}={value}" for name, value in sorted(facts.build_args.items())]
    lines += [f"secret arg  {name} (value not recorded)" for name in facts.secret_args]
    lines += [f"label       {key}={value}" for key, value in facts.labels.items()]
    lines += [
        f"tests       {t.step}: {t.passed} passed, {t.failed} failed, {t.skipped} skipped"
        for t in facts.tests
    ]
    lines += [f"pushed      {p.repository}:{p.tag} = {p.digest}" for p in facts.pushes]
    lines += [f"also built  by run {run}" for run in facts.other_runs]
    return "\n".join(lines)


def images(
    action: Annotated[
        str | None,
        typer.Argument(help="`prune`: remove built images nothing needs (see --keep-recent)."),
    ] = None,
    keep_recent: Annotated[
        str, typer.Option(help="With prune: keep images runs built this recently, e.g. 7d.")
    ] = "7d",
    commit: Annotated[str | None, typer.Option(help="Built from this commit (sha prefix).")] = None,
    base: Annotated[str | None, typer.Option(help="Built on this base image digest.")] = None,
    label: Annotated[str | None, typer.Option(help="Carrying label KEY or KEY=VALUE.")] = None,
    after: Annotated[
        str | None, typer.Option(help="The cursor printed last by the previous page.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="Page size.")] = 100,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the images built from a commit, on a base image, or carrying a label (give one).

    `shiplog images prune` removes from this host's Docker engine the images runs built
    that no environment runs and no run built within --keep-recent, and records
    ImagesPruned; every event of those images stays in the ledger.
    """
    if action is not None:
        if action != "prune":
            raise typer.BadParameter(f"unknown action {action!r}: the only one is prune")
        _prune(keep_recent)
        return
    given = [
        name for name, value in (("commit", commit), ("base", base), ("label", label)) if value
    ]
    if len(given) != 1:
        raise typer.BadParameter("give exactly one of --commit, --base or --label")
    try:
        page = Page(None if after is None else Cursor.parse(after), limit)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--after") from None
    with open_store(prepare()) as store:
        projector(store).catch_up_all()
        cursor = as_of_option(store, as_of)
        if commit is not None:
            found = images_from_commit(store, commit, cursor, page)
        elif base is not None:
            found = images_on_base(store, base, cursor, page)
        else:
            assert label is not None
            key, has_value, value = label.partition("=")
            found = images_with_label(store, key, value if has_value else None, cursor, page)
    if as_json:
        typer.echo(_json(found))
        return
    for item in found:
        typer.echo(
            f"{item.image_id}  run {item.run_id}  {item.commit[:12]}  {item.built_at.isoformat()}"
            f"  cursor {item.cursor}  {' '.join(item.tags)}"
        )


def _prune(keep_recent: str) -> None:
    """`shiplog images prune`: as the OS user, on this host's engine."""
    recent_since = datetime.now(UTC) - parse_age(keep_recent, "--keep-recent")
    context = prepare()
    with open_store(context) as store:
        projector(store).catch_up_all()
        pruned = prune_images(
            store,
            connect(),
            recent_since=recent_since,
            actor=Metadata(actor=context.settings.whoami(), source="cli"),
        )
    typer.echo(
        f"removed {len(pruned.removed)} images; kept {pruned.kept_in_use} that are in use "
        f"or were built since {recent_since:%Y-%m-%d %H:%M} UTC"
    )
