"""Push steps: tag an image built by the run as `repository:tag` and push it, for each tag.

`app.engine.push_image` pushes without credentials and without a progress callback;
this module reads the push stream the same way (the SDK reports failures inside the
stream, not as exceptions) with `auth_config` and the status lines going to the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import docker.errors

from app.executor.actions.containers import RunContext
from app.executor.actions.errors import StepCancelled, StepFailed
from app.executor.actions.support import LogSink, Masker, resolve_image
from app.pipeline.model import PushStep


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
            digest = push_stream(ctx.client, spec.repository, tag, auth, lambda s: log(mask(s)))
        except docker.errors.APIError as exc:
            reason = mask(str(exc.explanation or exc))
            raise StepFailed(f"push of {spec.repository}:{tag} failed: {reason}") from None
        except StepFailed as exc:
            raise StepFailed(mask(str(exc))) from None
        pushed.append(PushedImage(spec.repository, tag, digest, image_id))
    return pushed


def push_stream(
    client: Any, repository: str, tag: str, auth: dict[str, str] | None, log: LogSink
) -> str:
    """Push `repository:tag`, sending status lines to `log`; return the digest the registry gave.

    Progress-bar updates are not logged, only the status changes. Without `auth` the
    engine client's own configuration (~/.docker/config.json) decides, as for `docker push`.
    """
    digest = ""
    stream = client.api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth)
    for chunk in stream:
        if "error" in chunk:
            detail = (chunk.get("errorDetail") or {}).get("message") or chunk["error"]
            raise StepFailed(f"push of {repository}:{tag} failed: {detail}")
        aux = chunk.get("aux")
        if isinstance(aux, dict) and "Digest" in aux:
            digest = str(aux["Digest"])
        status = chunk.get("status")
        if status and not (chunk.get("progressDetail") or {}).get("total"):
            log(f"{chunk['id']}: {status}" if chunk.get("id") else str(status))
    if not digest:
        raise StepFailed(f"push of {repository}:{tag} reported no digest")
    return digest
