"""The proxy image blue/green and canary deployments put in front of a service: HAProxy.

Nothing is pulled: the image is built here `FROM scratch` with Debian's
`/usr/sbin/haproxy` (package `haproxy`) and every library `ldd` lists for it, each
copied with its links followed (as `cp -L` would) to the path the loader looks for.
It is tagged `shiplog/haproxy:<version>` (`+` as `_`) and built once per engine.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import docker.errors

HAPROXY = Path("/usr/sbin/haproxy")
REPOSITORY = "shiplog/haproxy"
CONFIG_PATH = "/etc/haproxy/haproxy.cfg"
DOCKERFILE = f"""\
FROM scratch
COPY rootfs/ /
STOPSIGNAL SIGUSR1
ENTRYPOINT ["/usr/sbin/haproxy", "-db", "-f", "{CONFIG_PATH}"]
"""
# `libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)`, `/lib64/ld-linux-x86-64.so.2 (0x...)`
_LDD_LINE = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)")


class ProxyImageError(RuntimeError):
    """The proxy image cannot be built here (no haproxy, or the engine refused)."""


def haproxy_version(binary: Path = HAPROXY) -> str:
    """The installed HAProxy's version, e.g. `2.6.12-1+deb12u4`."""
    if not binary.exists():
        raise ProxyImageError(
            f"{binary} is missing: install Debian's haproxy package (apt-get install haproxy)"
        )
    done = subprocess.run([str(binary), "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"version (\S+)", done.stdout)
    if done.returncode != 0 or match is None:
        raise ProxyImageError(f"{binary} -v did not say its version: {done.stderr.strip()}")
    return match.group(1)


def shared_libraries(binary: Path = HAPROXY) -> list[Path]:
    """Every library (and the loader) `ldd` says the binary needs, by the path it is loaded."""
    done = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ProxyImageError(f"ldd {binary} failed: {done.stderr.strip()}")
    return sorted({Path(match.group(1)) for match in _LDD_LINE.finditer(done.stdout)})


def _context(binary: Path) -> bytes:
    """The build context: the Dockerfile and rootfs/ holding the binary and its libraries."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        dockerfile = DOCKERFILE.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        for path in [binary, *shared_libraries(binary)]:
            content = path.resolve().read_bytes()  # links followed, as `cp -L` copies
            entry = tarfile.TarInfo(f"rootfs{path}")
            entry.size, entry.mode = len(content), 0o755
            tar.addfile(entry, io.BytesIO(content))
    return buffer.getvalue()


def ensure_haproxy_image(client: Any, binary: Path = HAPROXY) -> str:
    """The tag of the local HAProxy image, built now unless the engine has it."""
    # A tag holds letters, digits, `_`, `.` and `-`: Debian's `2.6.12-1+deb12u4` loses its `+`.
    tag = f"{REPOSITORY}:{re.sub(r'[^A-Za-z0-9_.-]', '_', haproxy_version(binary))}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.build(
            fileobj=io.BytesIO(_context(binary)), custom_context=True, tag=tag, rm=True
        )
    except (docker.errors.BuildError, docker.errors.APIError) as error:
        raise ProxyImageError(f"building {tag} failed: {error}") from None
    return tag
