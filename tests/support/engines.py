"""A Docker engine of the test's own, to stop and restart without touching the shared one.

Restarting dockerd kills every container on it, so a test that restarts an engine
must never restart the one other suites use (/var/run/docker.sock). PrivateEngine runs
a second dockerd with its own socket, data root, exec root (and so its own
containerd) and pid file, in a network namespace of its own, no default bridge, no
iptables rules and an address pool of its own, so its networks cannot collide with the
shared engine's. It needs root, Debian's docker.io and unshare(1), as the shared engine
does.

Why a network namespace: a dockerd without a default bridge deletes the `docker0`
interface as stale when it starts again after a stop, and in the host's namespace that
is the shared engine's default bridge: every later build on the shared engine would
fail ("could not find bridge docker0"). In a namespace of its own it only ever sees
its own interfaces. It talks to its clients over a unix socket, which no network
namespace hides.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import docker

from app.engine import BaseImageError, EngineUnavailable, connect, ensure_busybox_image
from tests.support.servers import docker_missing

ADDRESS_POOL = "base=10.213.0.0/16,size=24"
START_SECONDS = 60.0


class PrivateEngine:
    """A dockerd of this test session's own; `url` is its DOCKER_HOST."""

    def __init__(self) -> None:
        # Short: unix socket paths (containerd's lives under the exec root) are limited.
        self.root = Path(tempfile.mkdtemp(prefix="shiplog-dockerd-", dir="/tmp"))
        self.socket = self.root / "docker.sock"
        self.url = f"unix://{self.socket}"
        self.log_path = self.root / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateEngine:
        """Start dockerd and wait until it answers."""
        binary, unshare = shutil.which("dockerd"), shutil.which("unshare")
        if binary is None or unshare is None or os.geteuid() != 0:
            docker_missing(
                "a private Docker engine needs root, dockerd (Debian's docker.io) and unshare"
            )
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    unshare,  # execs dockerd: the process is dockerd itself, for signals
                    "--net",
                    "--",
                    binary,
                    f"--host={self.url}",
                    f"--data-root={self.root / 'data'}",
                    f"--exec-root={self.root / 'exec'}",
                    f"--pidfile={self.root / 'docker.pid'}",
                    "--bridge=none",
                    "--iptables=false",
                    "--ip-masq=false",
                    "--ip-forward=false",
                    f"--default-address-pool={ADDRESS_POOL}",
                    "--shutdown-timeout=1",  # containers get 1 s to stop when it stops
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                connect(self.url, timeout=5).close()
                return self
            except EngineUnavailable:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    docker_missing(f"the private dockerd did not start; its log:\n{self.tail()}")
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop dockerd the way an operator does (SIGTERM) and wait until it has exited."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def client(self) -> Any:
        """A docker client of this engine."""
        return docker.DockerClient(base_url=self.url, timeout=60)

    def tail(self, lines: int = 20) -> str:
        """The end of dockerd's log."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        """Stop dockerd and delete everything it had (containers, images, networks)."""
        self.stop()
        with contextlib.suppress(OSError):
            subprocess.run(["umount", "-R", str(self.root / "exec")], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def start_private_engine() -> tuple[PrivateEngine, str]:
    """A started PrivateEngine with the busybox base image on it, and that image's id."""
    engine = PrivateEngine().start()
    client = engine.client()
    try:
        image = ensure_busybox_image(client)
    except BaseImageError as exc:
        engine.close()
        docker_missing(str(exc))
    finally:
        client.close()
    return engine, image
