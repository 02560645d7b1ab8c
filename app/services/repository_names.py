"""The repository a person names on the command line, as the key secrets and grants use."""

from __future__ import annotations

from pathlib import Path

from app.executor.repositories import repository_key
from app.executor.source import inspect_checkout


def named_repository(name: str) -> str:
    """The canonical key of `name`: a clone URL, host/owner/name, or a local checkout's path.

    A directory that is a git checkout stands for the repository its runs record (its
    `origin` remote, else its own file:// URL), so `--repo .` works inside a checkout.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return repository_key(inspect_checkout(path).repository)
    return repository_key(name)
