"""A planted secret printed every way a step can, then looked for everywhere it could have gone.

Everywhere: a `pg_dump` of the whole database (every event, every stored log line,
the secrets table), `shiplog logs` of every step, the live output of `shiplog run`,
the runner's own log records, the run's workspace, and the image the run built and
pushed (its history, its config, every file of every layer, as the registry serves
them). Every form is looked for: the value and its base64, hex and URL encodings.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.database import Database
from app.executor.secret_keys import read_keyring
from events.store import EventStore
from events.vocabulary import ImageBuilt, ImagePushed, StepFinished
from tests.support.leaks import database_dump, leaks, pushed_image_files
from tests.support.runs import (
    BUSYBOX,
    commands_pipeline,
    make_repo,
    of_type,
    one,
    run_events,
    shiplog_run,
    unique_name,
)

pytestmark = pytest.mark.usefixtures("leftover_guard")

ALWAYS = """\
    when:
      status: [success, failure]
"""
URL_ENCODE = (
    "sed -e 's/%/%25/g' -e 's/ /%20/g' -e 's|/|%2F|g' -e 's/+/%2B/g' -e 's/=/%3D/g' "
    "-e 's/&/%26/g' -e 's/?/%3F/g' -e 's/:/%3A/g'"
)


def planted_secret() -> str:
    """A value long enough to wrap when encoded, with the characters URL encoding changes."""
    return f"leak-{uuid.uuid4().hex}/+=&?: {uuid.uuid4().hex}-{'Xq7' * 12}"


def printing_steps(tag: str, push_repository: str) -> str:
    return f"""\
  - name: build
    build:
      secrets: [LEAK_TOKEN]
      tags: ["{tag}"]
  - name: build-fails
    build:
      dockerfile: Dockerfile.fails
      secrets: [LEAK_TOKEN]
      tags: ["{tag}-broken"]
{ALWAYS}\
  - name: plain
    image: {BUSYBOX}
    secrets: [LEAK_TOKEN]
    commands:
      - echo "plain=$LEAK_TOKEN"
      - env | grep LEAK_TOKEN
      - printf '%s' "$LEAK_TOKEN" > /workspace/leak.txt
{ALWAYS}\
  - name: base64
    image: {BUSYBOX}
    secrets: [LEAK_TOKEN]
    commands:
      - for p in "" x xy; do printf '%s%s' "$p" "$LEAK_TOKEN" | base64; done
      - printf '%s' "$LEAK_TOKEN" | base64 | tr '+/' '-_'
{ALWAYS}\
  - name: hex
    image: {BUSYBOX}
    secrets: [LEAK_TOKEN]
    commands:
      - printf '%s' "$LEAK_TOKEN" | xxd -p
      - printf '%s' "$LEAK_TOKEN" | hexdump -ve '1/1 "%.2X"'; echo
{ALWAYS}\
  - name: url
    image: {BUSYBOX}
    secrets: [LEAK_TOKEN]
    commands:
      - printf '%s' "$LEAK_TOKEN" | {URL_ENCODE}; echo
      - printf '%s' "$LEAK_TOKEN" | xxd -p | tr -d '\\n' | sed 's/../%&/g'; echo
{ALWAYS}\
  - name: error
    image: {BUSYBOX}
    secrets: [LEAK_TOKEN]
    commands:
      - ls "/no/such/$LEAK_TOKEN"
{ALWAYS}\
  - name: push
    push:
      image: "{tag}"
      repository: {push_repository}
      tags: [leak]
    depends_on: [build]
"""


DOCKERFILE = f"""\
FROM {BUSYBOX}
RUN --mount=type=secret,id=LEAK_TOKEN \\
    cat /run/secrets/LEAK_TOKEN && echo && base64 /run/secrets/LEAK_TOKEN \\
    && xxd -p /run/secrets/LEAK_TOKEN \\
    && sha256sum /run/secrets/LEAK_TOKEN > /token.sha256 && echo {{unique}} > /build-id
"""
FAILING_DOCKERFILE = f"""\
FROM {BUSYBOX}
RUN --mount=type=secret,id=LEAK_TOKEN \\
    echo "refused token $(cat /run/secrets/LEAK_TOKEN) ({{unique}})" >&2 && exit 3
"""


def test_a_planted_secret_printed_every_way_is_found_nowhere(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    settings: Settings,
    docker_client: Any,
    busybox_image: str,
    registry: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = planted_secret()
    name = unique_name("shiplog-test/leak")
    tag = f"{name}:ci"
    pushed_name = f"{name.split('/', 1)[1]}-pushed"
    files = {
        ".shiplog.yml": commands_pipeline(printing_steps(tag, f"{registry.address}/{pushed_name}")),
        "Dockerfile": DOCKERFILE.format(unique=uuid.uuid4()),
        "Dockerfile.fails": FAILING_DOCKERFILE.format(unique=uuid.uuid4()),
    }
    repo = make_repo(tmp_path / "repo", files)
    stored = cli.invoke(app, ["secret", "set", "LEAK_TOKEN", "--repo", str(repo)], input=secret)
    assert stored.exit_code == 0, stored.output

    run_id, output, exit_code = shiplog_run(cli, repo)

    events = run_events(store, run_id)
    finished = {event.step: event for event in of_type(events, StepFinished)}
    assert exit_code == 1, output  # `build-fails` and `error` fail, as they should
    assert finished["build-fails"].exit_code == 1 and finished["error"].exit_code == 1
    assert (finished["build-fails"].reason or "").endswith("exit code: 3")
    for step in ("build", "plain", "base64", "hex", "url", "push"):
        assert finished[step].exit_code == 0, (step, output)
    one(events, ImagePushed, step="push")

    searched = {
        "pg_dump of the whole database": database_dump(database.owner_url),
        "the live output of shiplog run": output,
        "the runner's log records": "\n".join(record.getMessage() for record in caplog.records),
    }
    for step in finished:
        shown = cli.invoke(app, ["logs", run_id, step])
        assert shown.exit_code == 0, shown.output
        searched[f"shiplog logs {step}"] = shown.output
        assert "********" in shown.output or step == "push", step  # it did print the secret
    assert "refused token ********" in searched["shiplog logs build-fails"]
    workspace_files = [p for p in settings.work_dir.rglob("*") if p.is_file()]
    searched["the workspaces left"] = "\n".join(
        p.read_text(errors="replace") for p in workspace_files
    )
    built = one(events, ImageBuilt, step="build")
    image = docker_client.images.get(built.image_id)
    searched["the built image's history"] = repr(image.history())
    searched["the built image's config"] = repr(image.attrs)
    searched.update(pushed_image_text(registry, pushed_name, "leak"))

    found = {where: leaks(text, secret) for where, text in searched.items()}
    assert not {where: forms for where, forms in found.items() if forms}

    # The build did read it: the image holds a digest of it, not the value.
    digest = hashlib.sha256(secret.encode()).hexdigest()
    assert digest in searched["the pushed image's layers"]
    # And the database holds only what the keyring's keys seal, never the keys themselves.
    dump = searched["pg_dump of the whole database"]
    for key in read_keyring(settings.keyring_path).keys.values():
        assert base64.b64encode(key).decode() not in dump and key.hex() not in dump


def pushed_image_text(registry: Any, repository: str, tag: str) -> dict[str, str]:
    """What the registry serves of a pushed image, as text to search."""
    pushed = pushed_image_files(registry.url, repository, tag)
    layers = "\n".join(
        f"{path}\n{content.decode(errors='replace')}" for path, content in pushed["layers"].items()
    )
    return {
        "the pushed image's manifest": pushed["manifest"].decode(),
        "the pushed image's config and history": pushed["config"].decode(),
        "the pushed image's layers": layers,
    }


def test_an_image_built_with_a_secret_mount_and_pushed_keeps_no_trace_of_the_secret(
    cli: CliRunner,
    store: EventStore,
    docker_client: Any,
    busybox_image: str,
    registry: Any,
    tmp_path: Path,
) -> None:
    secret = planted_secret()
    name = unique_name("shiplog-test/mounted")
    pushed_name = f"{name.split('/', 1)[1]}-pushed"
    pipeline = commands_pipeline(
        f"""\
  - name: build
    build:
      secrets: [NPM_TOKEN]
      tags: ["{name}:ci"]
  - name: push
    push:
      image: "{name}:ci"
      repository: {registry.address}/{pushed_name}
      tags: ["1.0"]
"""
    )
    dockerfile = (
        f"FROM {BUSYBOX}\n"
        "RUN --mount=type=secret,id=NPM_TOKEN \\\n"
        "    wc -c < /run/secrets/NPM_TOKEN > /token-length \\\n"
        f"    && echo {uuid.uuid4()} > /build-id\n"
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline, "Dockerfile": dockerfile})
    stored = cli.invoke(app, ["secret", "set", "NPM_TOKEN", "--repo", str(repo)], input=secret)
    assert stored.exit_code == 0, stored.output

    run_id, output, exit_code = shiplog_run(cli, repo)

    assert exit_code == 0, output
    built = one(run_events(store, run_id), ImageBuilt)
    assert built.secret_mounts == ("NPM_TOKEN",) and built.build_args == {}
    pushed = pushed_image_files(registry.url, pushed_name, "1.0")
    history = [step.get("created_by", "") for step in json.loads(pushed["config"])["history"]]
    assert any(
        "--mount=type=secret" in line or "/run/secrets/NPM_TOKEN" in line for line in history
    )
    for where, text in pushed_image_text(registry, pushed_name, "1.0").items():
        assert not leaks(text, secret), where
    assert pushed["layers"]["layer1:token-length"].strip() == str(len(secret)).encode()
    assert not leaks(repr(docker_client.images.get(built.image_id).history()), secret)
