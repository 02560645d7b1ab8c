"""Push steps: tag an image built by the run as `repository:tag` and push it, for each tag."""

from __future__ import annotations

from dataclasses import dataclass

import docker.errors

from app.engine.docker_engine import PushFailed, push_image
from app.executor.actions.containers import RunContext
from app.executor.actions.errors import StepCancelled, StepFailed
from app.executor.actions.masking import Masker
from app.executor.actions.support import LogSink, resolve_image
from app.pipeline import PushStep


@dataclass(frozen=True)
class PushedImage:
    """One pushed tag: where, and the manifest digest the registry returned."""

    repository: str
    tag: str
    digest: str
    image_id: str


def run_push_step(
    ctx: RunContext,
    step: PushStep,
    *,
    credentials: tuple[str, str] | None,
    log: LogSink,
    image_id: str | None = None,
) -> list[PushedImage]:
    """Tag the built image as `repository:tag` for each tag, push each, return the digests.

    Give `image_id` (from the run's BuiltImage) to push exactly that image, whatever
    `push.image` names on the engine by now.
    """
    spec = step.push
    image_id, _ = resolve_image(ctx.client, image_id or spec.image)
    auth = None if credentials is None else {"username": credentials[0], "password": credentials[1]}
    mask = Masker(credentials or ())
    pushed = []
    for tag in spec.tags:
        if ctx.cancelled.is_set():
            raise StepCancelled(f"step {step.name}: the run was cancelled")
        try:
            ctx.client.api.tag(image_id, spec.repository, tag, force=True)
            digest = push_image(
                ctx.client, spec.repository, tag, auth_config=auth, on_status=lambda s: log(mask(s))
            )
        except docker.errors.APIError as exc:
            reason = mask(str(exc.explanation or exc))
            raise StepFailed(f"push of {spec.repository}:{tag} failed: {reason}") from None
        except PushFailed as exc:
            raise StepFailed(mask(str(exc))) from None
        pushed.append(PushedImage(spec.repository, tag, digest, image_id))
    return pushed
