"""The HAProxy in front of a blue/green or canary service: its configuration, runtime API, metrics.

One proxy per service. Its `app` backend holds the servers of both colours, found by
name through Swarm's DNS (the colour services use DNS round robin, so each task is a
server: `blue1`…, `green1`…); the weights decide who gets the traffic. The `preview`
backend reaches the newest colour only (blue/green previews, canary probes). Weights
change through the runtime API (`set weight`), which the proxy serves on a TCP port
published on the node; the Prometheus exporter serves each server's response counts by
class and its average response time, which a canary's analysis reads.

A proxy that restarts starts from the weights it was created with; drift
(app/delivery/drift.py) reports weights that differ from what the ledger says.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from app.delivery.orchestrator import OrchestratorError
from app.pipeline.deploy import MAX_PROXIED_REPLICAS
from events.vocabulary import Colour

COLOURS: tuple[Colour, ...] = ("blue", "green")
MAX_TASKS = MAX_PROXIED_REPLICAS
"""Servers per colour in the proxy; a proxied service has at most this many replicas."""
PUBLIC_PORT, PREVIEW_PORT, ADMIN_PORT, METRICS_PORT = 80, 81, 9999, 8405
"""Where the proxy listens inside its container (published on the node as configured)."""
BACKENDS = ("app", "preview")

_TEMPLATE = """\
global
    stats socket ipv4@0.0.0.0:{admin} level admin
    stats timeout 30s
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    default-server init-addr none resolvers swarm check inter 1s fall 2 rise 1
resolvers swarm
    nameserver dns 127.0.0.11:53
    hold valid 1s
    hold other 1s
    hold refused 1s
    hold nx 1s
    hold timeout 1s
    hold obsolete 1s
frontend public
    bind :{public}
    default_backend app
frontend preview
    bind :{preview}
    default_backend preview
frontend metrics
    bind :{metrics}
    http-request use-service prometheus-exporter if {{ path /metrics }}
{backends}"""


def proxy_config(
    hosts: Mapping[str, str], port: int, weights: Mapping[str, Mapping[str, int]]
) -> str:
    """haproxy.cfg for colour services `hosts` (colour -> swarm name) listening on `port`.

    `weights` gives each backend's weight per colour (0-256) as the proxy starts.
    """
    blocks = []
    for backend in BACKENDS:
        lines = [f"backend {backend}", "    balance roundrobin"]
        for colour in COLOURS:
            weight = weights.get(backend, {}).get(colour, 0)
            lines.append(
                f"    server-template {colour} {MAX_TASKS} {hosts[colour]}:{port} weight {weight}"
            )
        blocks.append("\n".join(lines) + "\n")
    return _TEMPLATE.format(
        admin=ADMIN_PORT,
        public=PUBLIC_PORT,
        preview=PREVIEW_PORT,
        metrics=METRICS_PORT,
        backends="".join(blocks),
    )


@dataclass(frozen=True)
class ProxyHandle:
    """How shiplog reaches one proxy from outside: the node's address and published ports."""

    address: str
    admin_port: int
    metrics_port: int
    preview_port: int | None
    public_port: int

    def url(self, port: int, path: str = "/") -> str:
        """A URL on the proxy's node."""
        return f"http://{self.address}:{port}{path}"


def runtime_command(handle: ProxyHandle, command: str, timeout: float = 5.0) -> str:
    """Send one command to the runtime API and answer what it printed."""
    try:
        with socket.create_connection((handle.address, handle.admin_port), timeout=timeout) as conn:
            conn.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
    except OSError as error:
        raise OrchestratorError(
            f"the proxy's runtime API at {handle.address}:{handle.admin_port} does not answer: "
            f"{error}"
        ) from None
    return b"".join(chunks).decode(errors="replace")


def set_weights(handle: ProxyHandle, backend: str, weights: Mapping[str, int]) -> None:
    """Give every server of each colour its weight (0-256) in `backend`, in one connection."""
    commands = [
        f"set weight {backend}/{colour}{n} {weight}"
        for colour, weight in weights.items()
        for n in range(1, MAX_TASKS + 1)
    ]
    answer = runtime_command(handle, ";".join(commands))
    problems = [line for line in answer.splitlines() if line.strip() and "No such" in line]
    if problems:
        raise OrchestratorError(f"the proxy refused a weight: {problems[0]}")


def servers_up(handle: ProxyHandle, backend: str, colour: str) -> int:
    """How many servers of `colour` in `backend` have an address and pass their checks."""
    answer = runtime_command(handle, f"show servers state {backend}")
    up = 0
    for line in answer.splitlines():
        fields = line.split()
        # be_id be_name srv_id srv_name srv_addr srv_op_state (2: running) ...
        if len(fields) > 5 and fields[1] == backend and fields[3].rstrip("0123456789") == colour:
            up += fields[4] != "-" and fields[5] == "2"
    return up


def weights_of(handle: ProxyHandle, backend: str) -> dict[str, int]:
    """What `backend` gives each colour now, from `show servers state`: under the colour's
    name when all its servers agree, else each server under its own name (`green2`)."""
    answer = runtime_command(handle, f"show servers state {backend}")
    servers: dict[str, dict[str, int]] = {}
    for line in answer.splitlines():
        fields = line.split()
        # be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight ...
        if len(fields) > 7 and fields[1] == backend:
            colour = fields[3].rstrip("0123456789")
            if colour in COLOURS:
                servers.setdefault(colour, {})[fields[3]] = int(fields[7])
    weights: dict[str, int] = {}
    for colour, each in servers.items():
        if len(set(each.values())) == 1:
            weights[colour] = next(iter(each.values()))
        else:
            weights.update(each)
    return weights


@dataclass(frozen=True)
class ColourStats:
    """What the proxy counted for one colour's servers in `app` so far."""

    responses: int
    errors: int  # 5xx
    mean_time_ms: float | None  # average response time over its servers' recent requests


def read_stats(text: str, backend: str = "app") -> dict[str, ColourStats]:
    """Per colour: responses, 5xx and mean response time, from the Prometheus exporter's text."""
    responses: dict[str, float] = {}
    errors: dict[str, float] = {}
    times: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if labels.get("proxy") != backend or "server" not in labels:
                continue
            colour = labels["server"].rstrip("0123456789")
            if colour not in COLOURS:
                continue
            if sample.name == "haproxy_server_http_responses_total":
                responses[colour] = responses.get(colour, 0) + sample.value
                if labels.get("code") == "5xx":
                    errors[colour] = errors.get(colour, 0) + sample.value
            elif sample.name == "haproxy_server_response_time_average_seconds" and sample.value:
                times.setdefault(colour, []).append(sample.value * 1000)
    return {
        colour: ColourStats(
            responses=int(responses.get(colour, 0)),
            errors=int(errors.get(colour, 0)),
            mean_time_ms=(sum(times[colour]) / len(times[colour])) if times.get(colour) else None,
        )
        for colour in COLOURS
    }
