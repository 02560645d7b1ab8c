"""Pointing at the servers the tests use: a database by name, the Docker engine's rule."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def with_dbname(url: str, dbname: str) -> str:
    """`url` pointing at database `dbname` on the same server."""
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)  # type: ignore[arg-type]


def docker_missing(reason: str) -> NoReturn:
    """Fail when SHIPLOG_REQUIRE_DOCKER=1 (the project's rule), else skip."""
    if os.environ.get("SHIPLOG_REQUIRE_DOCKER") == "1":
        pytest.fail(f"SHIPLOG_REQUIRE_DOCKER=1 but: {reason}", pytrace=False)
    pytest.skip(reason)
