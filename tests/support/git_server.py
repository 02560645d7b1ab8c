"""A real git server on loopback: bare repositories served by `git http-backend` over HTTP.

The smart HTTP protocol, as forges serve it, behind HTTP basic auth: a request without
the right `Authorization` header gets 401, so a clone that succeeds proves the clone
credential was sent. `GitRepo` makes commits in a work tree and pushes them to the
bare repository (through the file system), and can publish a pull request's head as
`refs/pull/<n>/head`, where GitHub and Gitea keep it.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Lovelace",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Lovelace",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git with a fixed identity; its stdout."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")}, **GIT_ENV}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@dataclass
class GitRepo:
    """A bare repository served over HTTP and a work tree that pushes to it."""

    bare: Path
    work: Path
    url: str

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        """Write `files`, commit them on the current branch; the new commit's sha."""
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git("add", "-A", cwd=self.work)
        git("commit", "--quiet", "-m", message, cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def push(self, ref: str = "HEAD:refs/heads/main") -> None:
        """Push to the bare repository (through the file system, as a developer's push)."""
        git("push", "--quiet", "--force", str(self.bare), ref, cwd=self.work)

    def head(self) -> str:
        """The work tree's HEAD sha."""
        return git("rev-parse", "HEAD", cwd=self.work)


class _Handler(BaseHTTPRequestHandler):
    server: _GitServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read what they need from the server's counters."""

    def do_GET(self) -> None:
        self._backend()

    def do_POST(self) -> None:
        self._backend()

    def _backend(self) -> None:
        if self.headers.get("Authorization") != self.server.expected_auth:
            self.server.refused += 1
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.server.served += 1
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "shiplog",
            "REMOTE_ADDR": self.client_address[0],
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        done = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _GitServer(ThreadingHTTPServer):
    def __init__(self, root: Path, user: str, password: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.expected_auth = f"Basic {token}"
        self.refused = 0
        self.served = 0


@dataclass
class GitServer:
    """The running server: where it is, and how many requests it refused and served."""

    server: _GitServer

    @property
    def base(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def repository(self, tmp: Path, owner: str, name: str) -> GitRepo:
        """A new bare repository `owner/name.git` with a work tree on branch main."""
        bare = self.server.root / owner / f"{name}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
        work = tmp / f"{owner}-{name}-work"
        git("init", "--quiet", "--initial-branch=main", str(work))
        return GitRepo(bare, work, f"{self.base}/{owner}/{name}.git")


@contextmanager
def git_server(root: Path, user: str = "ci", password: str = "s3cret-token") -> Iterator[GitServer]:
    """Serve the bare repositories under `root` on a free loopback port until the block ends."""
    server = _GitServer(root, user, password)
    thread = threading.Thread(target=server.serve_forever, name="git-http", daemon=True)
    thread.start()
    try:
        yield GitServer(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
