"""Sidecar services of a run: started before the first step on the run's network, each
reachable by its name, in the same sandbox as the steps, and stopped with the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import docker.errors

from app.executor.actions.containers import RunContext, build_script, shell_args
from app.executor.actions.errors import StepCancelled, StepFailed
from app.executor.actions.sandbox import SandboxPolicy, image_user
from app.executor.actions.support import (
    SERVICE_LABEL,
    LineSplitter,
    object_labels,
    resolve_image,
    secret_env,
)
from app.pipeline import Service

_log = logging.getLogger(__name__)


def start_services(
    ctx: RunContext,
    services: Sequence[Service],
    secrets: Mapping[str, str],
    log: Callable[[str, str], None],
    *,
    sandbox: SandboxPolicy,
) -> None:
    """Start each sidecar on the run network, reachable by its name; forward its output lines.

    A service gets the same sandbox as a step: limits, capabilities, user, privileges.
    """
    for service in services:
        if ctx.cancelled.is_set():
            raise StepCancelled("the run was cancelled before its services started")
        owner = f"service {service.name}"
        image_id, _ = resolve_image(ctx.client, service.image)
        environment = {**service.environment, **secret_env(owner, service.secrets, secrets)}
        confined = sandbox.container_options(
            owner, service, image_user(ctx.client, image_id), ctx.network
        )
        if "network" in confined:
            endpoint = ctx.client.api.create_endpoint_config(aliases=[service.name])
            confined["networking_config"] = {ctx.network: endpoint}
        try:
            container = ctx.client.containers.run(
                image_id,
                detach=True,
                environment=environment,
                hostname=service.name,
                labels=object_labels(ctx.labels, ctx.run_id, **{SERVICE_LABEL: service.name}),
                **confined,
                **shell_args(build_script(service.commands)),
            )
        except docker.errors.APIError as exc:
            raise StepFailed(f"service {service.name} did not start: {exc.explanation}") from None
        threading.Thread(
            target=_forward_service_output,
            args=(container, service.name, log),
            name=f"shiplog-service-{service.name}",
            daemon=True,
        ).start()


def _forward_service_output(container: Any, name: str, log: Callable[[str, str], None]) -> None:
    """Send a service's output to `log` until its container stops or is removed."""
    lines = LineSplitter(lambda line: log(name, line))
    try:
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            lines.feed(chunk)
        lines.flush()
    except Exception as exc:  # the run ended: container removed, or the sink closed
        _log.debug("output of service %s ended: %s", name, exc)
