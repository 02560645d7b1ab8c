"""`shiplog reproduce DIGEST|RUN`: rebuild past images from the ledger and say if they match."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from app.context import open_store, prepare
from app.engine import connect
from app.projections import projector
from app.reproduce.reproducer import Reproduction
from app.services.reproductions import reproduce as reproduce_image
from app.services.reproductions import subjects

EXIT_DIFFERS = 1
EXIT_CANNOT = 3


def register(app: typer.Typer) -> None:
    """Add `reproduce` to `app`."""
    app.command("reproduce")(reproduce_images)


def reproduce_images(
    target: Annotated[
        str, typer.Argument(help="A run id, or an image id / pushed manifest digest (sha256:…).")
    ],
    step: Annotated[
        str | None, typer.Option(help="Only the image this build step of the run built.")
    ] = None,
    keep: Annotated[bool, typer.Option(help="Keep the rebuilt image (untagged).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per image.")] = False,
) -> None:
    """Rebuild images from their runs' recorded inputs and compare (exit 1: differs, 3: cannot)."""
    context = prepare()
    client = connect()
    done: list[Reproduction] = []
    try:
        with open_store(context) as store:
            projector(store).catch_up_all()
            found = subjects(store, client, target, step=step)
            actor = context.settings.whoami()
            for subject in found:
                reproduction = reproduce_image(
                    store, client, context.settings.work_dir, subject, actor, keep=keep
                )
                done.append(reproduction)
                if as_json:
                    typer.echo(json.dumps(_as_json(reproduction), sort_keys=True))
                else:
                    _show(reproduction, kept=keep)
    finally:
        client.close()
    verdicts = {r.completed.verdict for r in done}
    if "differs" in verdicts:
        raise typer.Exit(EXIT_DIFFERS)
    if "cannot-reproduce" in verdicts:
        raise typer.Exit(EXIT_CANNOT)


def _as_json(reproduction: Reproduction) -> dict[str, object]:
    """The reproduction's id, run, step and its ReproductionCompleted fields."""
    return {
        "repro_id": reproduction.repro_id,
        "run_id": reproduction.requested.run_id,
        "step": reproduction.requested.step,
        **reproduction.completed.model_dump(mode="json"),
    }


def _show(reproduction: Reproduction, *, kept: bool) -> None:
    """The verdict in a few lines: what was compared, each difference, or the reason."""
    done, asked = reproduction.completed, reproduction.requested
    typer.echo(
        f"{done.image_id} (run {asked.run_id}, step {asked.step}): {done.verdict}"
        + (f": {done.reason}" if done.reason else "")
    )
    if done.rebuilt_image_id is not None:
        gone = (
            "" if kept or done.rebuilt_image_id == done.image_id else " (removed; --keep keeps it)"
        )
        typer.echo(f"  rebuilt as {done.rebuilt_image_id}{gone}")
    if done.layers_identical is not None:
        typer.echo(f"  layer diff ids: {'the same' if done.layers_identical else 'different'}")
    if done.compared:
        typer.echo(f"  compared: {', '.join(done.compared)} ({done.files_compared} paths)")
    for name in done.config_differences:
        typer.echo(f"  setting {name} differs")
    for diff in done.differences:
        what = f" ({', '.join(diff.aspects)})" if diff.aspects else ""
        typer.echo(f"  {diff.change} {diff.path}{what}: {diff.original} -> {diff.rebuilt}")
    if done.differences_total > len(done.differences):
        typer.echo(f"  ... and {done.differences_total - len(done.differences)} more paths")
