"""Blue/green and canary by hand: what one person with the docker CLI and HAProxy's runtime
API does, as the baseline of bench/delivery.py.

The person runs the same HAProxy image with the same configuration as shiplog's proxies
(app/delivery/haproxy.py: two colours found by Swarm's DNS, an `app` and a `preview`
backend), on an overlay network of their own, made with `docker network create`,
`docker config create` and `docker service create`. For each change they create the new
colour with `docker service create --detach`, wait until `docker service ps` shows its
tasks running (healthy: Swarm starts a task with a health check as `starting`) and until
the proxy's `show servers state` shows them up, then send the weights over the runtime
API socket, as `echo "set weight app/green1 100; …" | socat - TCP:host:port` would.
A canary's steps are the same weights and pauses, reading `show stat` every interval.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

from app.delivery.haproxy import (
    ADMIN_PORT,
    COLOURS,
    METRICS_PORT,
    PREVIEW_PORT,
    PUBLIC_PORT,
    ProxyHandle,
    proxy_config,
    runtime_command,
    servers_up,
    set_weights,
)
from app.delivery.proxied import other
from app.engine.haproxy_image import CONFIG_PATH

POLL_SECONDS = 0.5


def docker(*args: str, stdin: str | None = None) -> str:
    """Run the docker CLI; its output (an error names the command)."""
    done = subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])} failed: {done.stderr.strip()}")
    return done.stdout


@dataclass
class HandProxied:
    """One service behind HAProxy, run by hand: `<base>-net`, `-proxy`, `-blue`, `-green`."""

    base: str
    handle: ProxyHandle
    replicas: int
    health: str
    live: str = "blue"

    def colour(self, colour: str) -> str:
        """The swarm name of a colour's service."""
        return f"{self.base}-{colour}"

    def create_colour(self, colour: str, image: str) -> None:
        """`docker service create` the colour, then wait until it is healthy and the proxy sees
        every task up."""
        name = self.colour(colour)
        docker(
            "service", "create", "--quiet", "--detach", "--name", name,
            "--network", f"{self.base}-net", "--endpoint-mode", "dnsrr",
            "--replicas", str(self.replicas), "--health-cmd", self.health,
            "--health-interval", "1s", "--health-retries", "2", image,
        )  # fmt: skip
        while True:
            states = docker(
                "service", "ps", name, "--filter", "desired-state=running",
                "--format", "{{.CurrentState}}",
            ).split("\n")  # fmt: skip
            if sum(state.startswith("Running") for state in states) >= self.replicas:
                break
            time.sleep(POLL_SECONDS)
        while not all(
            servers_up(self.handle, backend, colour) >= self.replicas
            for backend in ("app", "preview")
        ):
            time.sleep(POLL_SECONDS)

    def remove_idle(self) -> None:
        """`docker service rm` the colour that gets no traffic (not timed: yesterday's)."""
        idle = self.colour(other(self.live))
        if docker("service", "ls", "--quiet", "--filter", f"name={idle}").strip():
            docker("service", "rm", idle)

    def blue_green(self, image: str) -> None:
        """The new version in the idle colour, then all traffic to it."""
        new = other(self.live)
        self.create_colour(new, image)
        for backend in ("preview", "app"):
            set_weights(self.handle, backend, {new: 100, self.live: 0})
        self.live = new

    def canary(self, image: str, steps: list[int], pause: float, interval: float) -> None:
        """The new version in the idle colour, its weight raised step by step, the proxy's
        counts read every `interval` of each step's pause, then all traffic to it."""
        new = other(self.live)
        self.create_colour(new, image)
        set_weights(self.handle, "preview", {new: 100, self.live: 0})
        for weight in steps:
            set_weights(self.handle, "app", {new: weight, self.live: 100 - weight})
            for _ in range(max(1, int(pause // interval))):
                runtime_command(self.handle, "show stat")
                time.sleep(interval)
                runtime_command(self.handle, "show stat")
        set_weights(self.handle, "app", {new: 100, self.live: 0})
        self.live = new


def set_up_by_hand(
    base: str,
    proxy_image: str,
    image: str,
    *,
    replicas: int,
    health: str,
    ports: tuple[int, int, int, int],
) -> HandProxied:
    """The network, the proxy (its configuration as a swarm config) and blue running `image`,
    live; `ports` are the node's public, admin, metrics and preview ports."""
    public, admin, metrics, preview = ports
    docker("network", "create", "--driver", "overlay", "--attachable", f"{base}-net")
    hosts: dict[str, str] = {colour: f"{base}-{colour}" for colour in COLOURS}
    config = proxy_config(hosts, 8080, {"app": {"blue": 100}, "preview": {"blue": 100}})
    docker("config", "create", f"{base}-cfg", "-", stdin=config)
    published = [(public, PUBLIC_PORT), (admin, ADMIN_PORT), (metrics, METRICS_PORT)]
    published.append((preview, PREVIEW_PORT))
    docker(
        "service", "create", "--quiet", "--name", f"{base}-proxy", "--network", f"{base}-net",
        "--config", f"source={base}-cfg,target={CONFIG_PATH}",
        *(f"--publish=mode=host,published={p},target={t}" for p, t in published),
        proxy_image,
    )  # fmt: skip
    handle = ProxyHandle("127.0.0.1", admin, metrics, preview, public)
    deadline = time.monotonic() + 60
    while True:
        try:
            runtime_command(handle, "show info")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(POLL_SECONDS)
    hand = HandProxied(base, handle, replicas, health)
    hand.create_colour("blue", image)
    return hand


def remove_bench_objects(prefix: str) -> None:
    """Remove every swarm service, config and network named `<prefix>…` (the bench's own)."""
    services = docker("service", "ls", "--quiet", "--filter", f"name={prefix}").split()
    if services:
        docker("service", "rm", *services)
    for kind in ("config", "network"):
        for item in docker(kind, "ls", "--quiet", "--filter", f"name={prefix}").split():
            for _ in range(120):  # in use until the services' tasks are gone
                done = subprocess.run(
                    ["docker", kind, "rm", item], capture_output=True, check=False
                )
                if done.returncode == 0 or b"not found" in done.stderr.lower():
                    break
                time.sleep(POLL_SECONDS)
