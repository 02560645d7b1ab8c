"""Connecting to the Docker engine, and the few engine calls that need care."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import docker
import docker.errors
import requests.exceptions

ENSURE_HINT = (
    "Run scripts/ensure-docker (as root on Debian it installs docker.io and starts dockerd), "
    "start the Docker daemon yourself, or set DOCKER_HOST to an engine that is running."
)


class EngineUnavailable(RuntimeError):
    """The Docker engine does not answer."""


class EngineStopped(EngineUnavailable):
    """The engine stopped answering while shiplog worked with it (it is stopping or restarting)."""


class PushFailed(RuntimeError):
    """The engine reported an error while pushing an image."""


def connect(base_url: str | None = None, *, timeout: int = 60) -> Any:
    """Connect to the Docker engine and check that it answers.

    Without ``base_url`` the environment decides (``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``,
    ``DOCKER_CERT_PATH``, else the default socket). Returns a ``docker.DockerClient``.
    Raises :class:`EngineUnavailable` when nothing answers there.
    """
    where = base_url or os.environ.get("DOCKER_HOST") or "the default socket"
    client: Any = None
    try:
        if base_url is None:
            client = docker.from_env(timeout=timeout)
        else:
            client = docker.DockerClient(base_url=base_url, timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        if client is not None:
            client.close()
        raise EngineUnavailable(
            f"Docker engine at {where} does not answer ({exc}). {ENSURE_HINT}"
        ) from exc
    return client


DEFAULT_SOCKET = "/var/run/docker.sock"


def local_socket_path() -> str | None:
    """The path of the engine's unix socket on this host; None when DOCKER_HOST is not one."""
    host = os.environ.get("DOCKER_HOST")
    if not host:
        return DEFAULT_SOCKET
    return host.removeprefix("unix://") if host.startswith("unix://") else None


def engine_gone(error: BaseException) -> bool:
    """Whether `error` says the engine stopped answering, rather than that it refused a call.

    A dockerd that stops closes its socket: calls then fail to connect, and a stream
    being read breaks off. Both come from requests (through the docker SDK), never as
    the SDK's own APIError, which is the engine answering with an error.
    """
    return isinstance(
        error,
        EngineUnavailable
        | requests.exceptions.ConnectionError
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.Timeout,
    )


def engine_url(client: Any) -> str:
    """The address `client` talks to, e.g. ``unix:///var/run/docker.sock``."""
    socket_path = getattr(getattr(client.api, "_custom_adapter", None), "socket_path", None)
    return f"unix://{socket_path}" if socket_path else str(client.api.base_url)


def engine_answers(client: Any, *, timeout: int = 5) -> bool:
    """Whether the engine at `client`'s address accepts a new connection and answers a ping.

    A new connection, not one of `client`'s: a dockerd that is stopping closes its
    socket to new connections at once, yet goes on serving the connections it has
    (for as long as it takes to stop its containers), so only a new one tells.
    """
    try:
        probe = docker.DockerClient(base_url=engine_url(client), timeout=timeout)
    except docker.errors.DockerException:
        return False
    try:
        probe.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
        return False
    finally:
        probe.close()
    return True


def wait_for_engine(client: Any, seconds: float, *, interval: float = 0.5) -> bool:
    """Wait up to `seconds` for the engine to answer again; whether it did."""
    deadline = time.monotonic() + seconds
    while not engine_answers(client):
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def engine_version(client: Any) -> str:
    """The engine's version, e.g. ``20.10.24+dfsg1``."""
    return str(client.version()["Version"])


def push_image(
    client: Any,
    repository: str,
    tag: str,
    *,
    auth_config: dict[str, str] | None = None,
    on_status: Callable[[str], None] | None = None,
) -> str:
    """Push ``repository:tag`` and return the manifest digest the registry reported.

    The docker SDK does not raise when a push fails: errors arrive inside the progress
    stream. This reads the whole stream and raises :class:`PushFailed` on the first one.
    Status changes (not progress-bar updates) go to ``on_status``. Without
    ``auth_config`` the client's own configuration decides, as for ``docker push``.
    """
    digest = ""
    stream = client.api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth_config)
    for chunk in stream:
        if "error" in chunk:
            detail = (chunk.get("errorDetail") or {}).get("message") or chunk["error"]
            raise PushFailed(f"push of {repository}:{tag} failed: {detail}")
        aux = chunk.get("aux")
        if isinstance(aux, dict) and "Digest" in aux:
            digest = str(aux["Digest"])
        status = chunk.get("status")
        if (
            on_status is not None
            and status
            and not (chunk.get("progressDetail") or {}).get("total")
        ):
            on_status(f"{chunk['id']}: {status}" if chunk.get("id") else str(status))
    if not digest:
        raise PushFailed(f"push of {repository}:{tag} reported no digest")
    return digest
