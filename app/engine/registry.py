"""A throwaway local registry: Debian's ``docker-registry`` (CNCF distribution) on loopback.

The Docker engine treats 127.0.0.0/8 registries as insecure (plain HTTP) by default, so
``127.0.0.1:PORT/repo:tag`` can be pushed and pulled without any daemon configuration.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from types import TracebackType
from typing import IO, Self

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)

CONFIG = """\
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
"""

# Loopback only: never send these requests through a proxy from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RegistryError(RuntimeError):
    """The local registry could not be started or did not answer."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop_process(process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    log.close()


class LocalRegistry:
    """``docker-registry serve`` on a free 127.0.0.1 port, storage in a temporary directory.

    Use as a context manager, or call :meth:`start` and :meth:`stop`::

        with LocalRegistry() as registry:
            push_image(client, f"{registry.address}/app", "v1")
            registry.manifest_digest("app", "v1")
    """

    def __init__(
        self,
        root: Path | None = None,
        *,
        binary: str = "docker-registry",
        start_timeout: float = 30.0,
        port: int | None = None,
    ) -> None:
        self._given_root = root
        self._given_port = port
        self._binary = binary
        self._start_timeout = start_timeout
        self._root: Path | None = None
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: (
            weakref.finalize[[subprocess.Popen[bytes], IO[bytes]], LocalRegistry] | None
        ) = None

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, the registry part of image references."""
        if self._port is None:
            raise RegistryError("registry is not running")
        return f"127.0.0.1:{self._port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def log_path(self) -> Path:
        if self._root is None:
            raise RegistryError("registry is not running")
        return self._root / "registry.log"

    def start(self) -> Self:
        """Start the registry and wait until ``GET /v2/`` answers."""
        if self._process is not None:
            return self
        binary = shutil.which(self._binary)
        if binary is None:
            raise RegistryError(
                f"{self._binary} not found: install Debian's docker-registry "
                "(apt-get install docker-registry, or run scripts/ensure-docker as root)"
            )
        root = self._given_root or Path(tempfile.mkdtemp(prefix="shiplog-registry-"))
        root.mkdir(parents=True, exist_ok=True)
        self._root = root
        failure = ""
        # Another process may take a free port between probe and bind: try a few. A port
        # the caller chose is tried once.
        for _attempt in range(1 if self._given_port else 5):
            port = self._given_port or _free_port()
            config = root / "config.yml"
            config.write_text(CONFIG.format(root=root / "data", port=port))
            log = (root / "registry.log").open("ab")
            process = subprocess.Popen(
                [binary, "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            self._port = port
            if self._wait_until_ready(process):
                self._process = process
                self._finalizer = weakref.finalize(self, _stop_process, process, log)
                return self
            _stop_process(process, log)
            failure = self._log_tail()
            if "address already in use" not in failure:
                break
        self._port = None
        self._cleanup_root()
        raise RegistryError(f"docker-registry did not start; its log ends:\n{failure}")

    def _wait_until_ready(self, process: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                with _opener.open(f"{self.url}/v2/", timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        return False

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = (self._root / "registry.log").read_text(errors="replace") if self._root else ""
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def manifest_digest(self, repo: str, tag: str) -> str:
        """The ``Docker-Content-Digest`` of ``repo:tag`` (a Docker v2 or OCI manifest/index).

        Raises :class:`LookupError` when the registry has no such manifest.
        """
        request = urllib.request.Request(
            f"{self.url}/v2/{repo}/manifests/{tag}",
            method="HEAD",
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
        )
        try:
            with _opener.open(request, timeout=10) as response:
                digest = response.headers.get("Docker-Content-Digest")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise LookupError(f"{self.address}/{repo}:{tag} is not in the registry") from exc
            raise RegistryError(f"HEAD {request.full_url} answered {exc.code}") from exc
        if not digest:
            raise RegistryError(f"HEAD {request.full_url} sent no Docker-Content-Digest")
        return str(digest)

    def stop(self) -> None:
        """Stop the registry and delete its storage (unless a root was given)."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self._process = None
        self._port = None
        self._cleanup_root()

    def _cleanup_root(self) -> None:
        if self._root is not None and self._given_root is None:
            shutil.rmtree(self._root, ignore_errors=True)
        self._root = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
