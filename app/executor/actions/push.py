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

PUSH_ATTEMPTS = 3
"""How often a push is tried when the registry cannot be reached."""
PUSH_RETRY_SECONDS = 1.0
"""The wait before the second attempt; it doubles before each later one."""

# What the engine says when the registry is not there (down, restarting, unreachable),
# as opposed to a refusal (unauthorized, denied, a manifest it rejects).
_UNREACHABLE = (
    "connection refused",
    "connection reset",
    "dial tcp",
    "i/o timeout",
    "no such host",
    "eof",
    "502 bad gateway",
    "503 service unavailable",
    "504 gateway timeout",
)


def registry_unreachable(reason: str) -> bool:
    """Whether a push failed because the registry could not be reached (worth trying again)."""
    text = reason.lower()
    return any(sign in text for sign in _UNREACHABLE)


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
    attempts: int = PUSH_ATTEMPTS,
    retry_seconds: float = PUSH_RETRY_SECONDS,
) -> list[PushedImage]:
    """Tag the built image as `repository:tag` for each tag, push each, return the digests.

    Give `image_id` (from the run's BuiltImage) to push exactly that image, whatever
    `push.image` names on the engine by now. A push the registry could not be reached
    for is tried again, up to `attempts` times in all; a digest is returned only as
    the registry reported it for a completed push.
    """
    spec = step.push
    image_id, _ = resolve_image(ctx.client, image_id or spec.image)
    auth = None if credentials is None else {"username": credentials[0], "password": credentials[1]}
    mask = Masker(credentials or ())
    pushed = []
    for tag in spec.tags:
        if ctx.cancelled.is_set():
            raise StepCancelled(f"step {step.name}: the run was cancelled")
        ctx.client.api.tag(image_id, spec.repository, tag, force=True)
        digest = _push_with_retries(ctx, spec.repository, tag, auth, mask, log, attempts,
                                    retry_seconds)  # fmt: skip
        pushed.append(PushedImage(spec.repository, tag, digest, image_id))
    return pushed


def _push_with_retries(
    ctx: RunContext,
    repository: str,
    tag: str,
    auth: dict[str, str] | None,
    mask: Masker,
    log: LogSink,
    attempts: int,
    retry_seconds: float,
) -> str:
    """Push one tag, again while the registry cannot be reached; its digest, else StepFailed."""
    delay = retry_seconds
    for attempt in range(1, attempts + 1):
        try:
            return push_image(
                ctx.client, repository, tag, auth_config=auth, on_status=lambda s: log(mask(s))
            )
        except docker.errors.APIError as exc:
            reason = mask(str(exc.explanation or exc))
        except PushFailed as exc:
            reason = mask(str(exc))
        if not registry_unreachable(reason) or attempt == attempts:
            tried = f" (tried {attempt} times)" if attempt > 1 else ""
            raise StepFailed(f"push of {repository}:{tag} failed{tried}: {reason}")
        log(f"shiplog: the registry could not be reached (attempt {attempt} of {attempts}): "
            f"{reason}; trying again in {delay:g} s")  # fmt: skip
        if ctx.cancelled.wait(delay):
            raise StepCancelled(f"push of {repository}:{tag}: the run was cancelled")
        delay *= 2
    raise AssertionError("unreachable")  # the loop returns or raises
