"""The directories shipped inside the app package, found through importlib.resources.

migrations/, templates/ and examples/ sit at the top of the repository. app/ holds a
symbolic link to each (app/migrations -> ../migrations, ...) and pyproject.toml ships
their files as package data, so one lookup finds them in a checkout, in an editable
install and in an installed wheel alike (docs/decisions/0002-resources-in-the-wheel.md).
Nothing here knows where a checkout is.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resource_dir(package: str, name: str) -> Path:
    """The directory `name` inside the installed `package`, as a path on disk."""
    found = files(package) / name
    if not isinstance(found, Path) or not found.is_dir():
        raise FileNotFoundError(
            f"the package {package} holds no directory {name} (looked for {found}): "
            "shiplog is installed without its data files; reinstall it"
        )
    return found


def migrations_dir() -> Path:
    """The NNNN_what.sql migrations shipped with shiplog."""
    return resource_dir("app", "migrations")


def templates_dir() -> Path:
    """The Jinja2 templates of the web pages."""
    return resource_dir("app", "templates")


def static_dir() -> Path:
    """The web pages' static files (stylesheet, script)."""
    return resource_dir("app.web", "static")


def example_dir(name: str) -> Path:
    """The sample repository examples/`name` (its pipeline, Dockerfile and scripts)."""
    return resource_dir("app", f"examples/{name}")
