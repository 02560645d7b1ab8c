"""Access control benchmark: what authenticating each request costs, beside no credential at all.

    PYTHONPATH=$PWD .venv/bin/python -m bench.access [--reps 3] [--requests 500]

One application (create_app over a fresh, migrated database, requests through
Starlette's TestClient in this process) answers --requests requests of each kind, in
turns of ten: `GET /api/whoami` and `GET /api/events?limit=1` with a bearer token (the token
looked up by its sha256, the viewer check), the same with a signed-in session cookie,
and the same with no credential while public read is on (the baseline: what every
request cost before sign-in existed). Each repetition uses a fresh database on the
server SHIPLOG_BENCH_DATABASE_URL names (an admin URL), else on the tests' embedded
server under .test-home/. Figures are medians of --reps; the last line printed is one
JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from datetime import timedelta
from pathlib import Path
from time import perf_counter

from fastapi.testclient import TestClient

from app.config import Settings
from app.credentials import SESSION_COOKIE
from app.server import create_app
from app.services.access import Role
from app.services.sessions import start_session
from app.services.tokens import create_token
from bench.server import bench_admin_url, fresh_database
from events.store import EventStore

PATHS = ("/api/whoami", "/api/events?limit=1")
KINDS = ("token", "session", "public")
CHUNK = 10


def seconds(client: TestClient, path: str, count: int, headers: dict[str, str]) -> float:
    """Seconds for `count` GETs of `path` with `headers`; each must answer 200."""
    start = perf_counter()
    for _ in range(count):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.text
    return perf_counter() - start


def one_rep(app_url: str, count: int) -> dict[str, float]:
    """Seconds per (kind, path) for `count` requests each, the kinds in turns."""
    home = Path(tempfile.mkdtemp(prefix="shiplog-bench-access-"))
    hosts = ("testserver",)
    guarded = Settings(home=home, database_url=app_url, allowed_hosts=hosts)
    public = guarded.model_copy(update={"public_read": True})
    with EventStore(app_url) as store:
        secret = create_token(store, "bench", frozenset({Role.VIEWER}), "bench").secret
        session = start_session(store, "bench", ("viewer",), timedelta(hours=1))
    headers = {
        "token": {"Authorization": f"Bearer {secret}"},
        "session": {"Cookie": f"{SESSION_COOKIE}={session.secret}"},
        "public": {},
    }
    found = {f"{kind} {path}": 0.0 for kind in KINDS for path in PATHS}
    with TestClient(create_app(guarded)) as client, TestClient(create_app(public)) as anyone:
        for path in PATHS:
            for kind in KINDS:  # warm up each
                seconds(anyone if kind == "public" else client, path, 20, headers[kind])
            # In turns of CHUNK requests, so that the machine's varying load falls on
            # every kind alike.
            for _ in range(count // CHUNK):
                for kind in KINDS:
                    caller = anyone if kind == "public" else client
                    found[f"{kind} {path}"] += seconds(caller, path, CHUNK, headers[kind])
    return found


def main(argv: list[str] | None = None) -> None:
    """Run every case --reps times and print medians and ratios."""
    parser = argparse.ArgumentParser(prog="bench.access")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args(argv)
    admin_url = bench_admin_url()
    rows: dict[str, list[float]] = {}
    for _ in range(max(args.reps, 1)):
        with fresh_database(admin_url, "access") as database:
            for key, value in one_rep(database.app_url, args.requests).items():
                rows.setdefault(key, []).append(value)
    med = {key: statistics.median(values) for key, values in rows.items()}
    result: dict[str, float] = {}
    for path in PATHS:
        base = med[f"public {path}"]
        for kind in KINDS:
            per_request = med[f"{kind} {path}"] / (args.requests // CHUNK * CHUNK)
            result[f"{kind} {path} ms"] = round(per_request * 1000, 3)
        for kind in ("token", "session"):
            result[f"{kind} vs public {path}"] = round(med[f"{kind} {path}"] / base, 2)
    result["reps"] = len(next(iter(rows.values())))
    for key, value in result.items():
        print(f"{key:>40}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
