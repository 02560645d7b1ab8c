"""A tiny local base image: FROM scratch plus Debian's static /bin/busybox.

No image can be pulled on shiplog's test machines, so tests build their own base.
Docker's legacy builder cannot build it reproducibly: it stamps every step with the
current time in the image config and gives files copied into a layer fresh directory
times. So the image is assembled here, byte for byte (layer tar with fixed times and
owners, image config with a fixed ``created``), and handed to the engine with
``docker load``, which keeps the config bytes. The image id is the sha256 of those
bytes, so it is known before the engine sees the image, and equal on every machine
with the same busybox binary.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors

BUSYBOX = Path("/bin/busybox")
DEFAULT_BUSYBOX_TAG = "shiplog/busybox:1"
EPOCH = 0  # mtime of every file in the layer
CREATED = "1970-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\n"

_PT_INTERP = 3
_ELF_ARCH = {
    (0x3E, "<"): "amd64",
    (0xB7, "<"): "arm64",
    (0x03, "<"): "386",
    (0x28, "<"): "arm",
    (0xF3, "<"): "riscv64",
    (0x15, "<"): "ppc64le",
    (0x16, ">"): "s390x",
}


class BaseImageError(RuntimeError):
    """The base image cannot be made here (no static busybox, or the engine disagrees)."""


@dataclass(frozen=True)
class ImageArchive:
    """A ``docker save``-format archive and the image id the engine will give it."""

    image_id: str
    archive: bytes


def _elf_platform(path: Path, data: bytes) -> str:
    """The image architecture of a statically linked ELF executable."""
    if data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        raise BaseImageError(f"{path} is not an ELF executable")
    end = "<" if data[5] == 1 else ">"
    (machine,) = struct.unpack_from(end + "H", data, 18)
    if data[4] == 2:
        (phoff,) = struct.unpack_from(end + "Q", data, 32)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 54)
    else:
        (phoff,) = struct.unpack_from(end + "I", data, 28)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 42)
    segment_types = [
        struct.unpack_from(end + "I", data, phoff + i * phentsize)[0] for i in range(phnum)
    ]
    if _PT_INTERP in segment_types:
        raise BaseImageError(
            f"{path} is dynamically linked and cannot run in a FROM scratch image; "
            "install Debian's busybox-static (apt-get install busybox-static)"
        )
    arch = _ELF_ARCH.get((machine, end))
    if arch is None:
        raise BaseImageError(f"{path}: unknown ELF machine {machine:#x}")
    return arch


def _busybox_facts(path: Path) -> tuple[list[str], str]:
    """The applet names and the version line of the busybox at ``path``."""
    listing = subprocess.run(
        [str(path), "--list"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    banner = subprocess.run(
        [str(path)], capture_output=True, text=True, check=False, timeout=30
    ).stdout
    match = re.search(r"BusyBox v(\S+)(?: \(([^)]*)\))?", banner)
    version = match.group(1) if match else "unknown"
    if match and match.group(2):
        version += f" ({match.group(2)})"
    return sorted({name for name in listing if name != "busybox" and "/" not in name}), version


def _tar_entry(
    name: str, kind: bytes, mode: int, *, link: str = "", size: int = 0
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.linkname = link
    info.mtime = EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _layer(binary: bytes, applets: list[str]) -> bytes:
    files: dict[str, tuple[tarfile.TarInfo, bytes | None]] = {}

    def add(info: tarfile.TarInfo, content: bytes | None = None) -> None:
        files[info.name] = (info, content)

    add(_tar_entry("bin", tarfile.DIRTYPE, 0o755))
    add(_tar_entry("etc", tarfile.DIRTYPE, 0o755))
    add(_tar_entry("root", tarfile.DIRTYPE, 0o700))
    add(_tar_entry("tmp", tarfile.DIRTYPE, 0o1777))
    add(_tar_entry("bin/busybox", tarfile.REGTYPE, 0o755, size=len(binary)), binary)
    for applet in applets:  # what `busybox --install -s /bin` would make
        add(_tar_entry(f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="/bin/busybox"))
    add(_tar_entry("etc/passwd", tarfile.REGTYPE, 0o644, size=len(PASSWD)), PASSWD)
    add(_tar_entry("etc/group", tarfile.REGTYPE, 0o644, size=len(GROUP)), GROUP)

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            info, content = files[name]
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return out.getvalue()


def _canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def busybox_image_archive(tag: str = DEFAULT_BUSYBOX_TAG, busybox: Path = BUSYBOX) -> ImageArchive:
    """Assemble the busybox base image as a ``docker load`` archive, deterministically.

    Raises :class:`BaseImageError` when ``busybox`` is missing or not statically linked.
    """
    if not busybox.is_file():
        raise BaseImageError(
            f"{busybox} not found: install Debian's busybox-static "
            "(apt-get install busybox-static, or run scripts/ensure-docker as root)"
        )
    binary = busybox.read_bytes()
    arch = _elf_platform(busybox, binary)
    applets, version = _busybox_facts(busybox)
    layer = _layer(binary, applets)
    layer_sha = hashlib.sha256(layer).hexdigest()
    labels = {
        "org.opencontainers.image.title": "shiplog busybox base",
        "org.opencontainers.image.description": (
            "FROM scratch + static /bin/busybox, applets linked in /bin, /etc/passwd, /tmp"
        ),
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.created": CREATED,
        "org.opencontainers.image.vendor": "shiplog",
        "org.opencontainers.image.licenses": "GPL-2.0-only",
        "org.opencontainers.image.base.name": "scratch",
        "io.shiplog.busybox.sha256": hashlib.sha256(binary).hexdigest(),
    }
    config = _canonical_json(
        {
            "architecture": arch,
            "os": "linux",
            "created": CREATED,
            "config": {
                "Env": [PATH_ENV],
                "Cmd": ["sh"],
                "WorkingDir": "/",
                "Labels": labels,
            },
            "history": [
                {
                    "created": CREATED,
                    "created_by": "shiplog: scratch + /bin/busybox --install -s /bin",
                }
            ],
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_sha}"]},
        }
    )
    config_sha = hashlib.sha256(config).hexdigest()
    manifest = _canonical_json(
        [
            {
                "Config": f"{config_sha}.json",
                "RepoTags": [tag],
                "Layers": [f"{layer_sha}/layer.tar"],
            }
        ]
    )
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content in (
            (f"{config_sha}.json", config),
            (f"{layer_sha}/layer.tar", layer),
            ("manifest.json", manifest),
        ):
            info = _tar_entry(name, tarfile.REGTYPE, 0o644, size=len(content))
            tar.addfile(info, io.BytesIO(content))
    return ImageArchive(image_id=f"sha256:{config_sha}", archive=out.getvalue())


def ensure_busybox_image(
    client: Any, tag: str = DEFAULT_BUSYBOX_TAG, busybox: Path = BUSYBOX
) -> str:
    """Make sure the engine has the busybox base image under ``tag``; return its id.

    Loads the image only when ``tag`` is missing or names another image (for example
    after busybox was upgraded). Raises :class:`BaseImageError` when busybox is missing
    or dynamically linked, or when the engine gives the image another id than expected.
    """
    wanted = busybox_image_archive(tag, busybox)
    try:
        if client.images.get(tag).id == wanted.image_id:
            return wanted.image_id
    except docker.errors.ImageNotFound:
        pass
    client.images.load(wanted.archive)
    got = str(client.images.get(tag).id)
    if got != wanted.image_id:
        raise BaseImageError(f"engine loaded {tag} as {got}, expected {wanted.image_id}")
    return got
