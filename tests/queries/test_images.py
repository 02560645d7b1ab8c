"""The images projection and its questions: by digest, by commit, by base image, by label."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.projections import projector
from app.queries.images import (
    Page,
    find_image,
    images_from_commit,
    images_on_base,
    images_with_label,
)
from app.server import create_app
from app.services.access import Role
from events.store import Cursor, EventStore
from tests.support.access import bearer
from tests.support.run_history import RunPlan, append_interleaved, history

BASE = "sha256:" + "d" * 64
REVISION = "org.opencontainers.image.revision"


def image_of(plan: RunPlan) -> str:
    """The image id plan_run gives run `plan` (independent of shiplog's code)."""
    return f"sha256:{int(plan.run_id[1:]):064x}"


def commit_of(plan: RunPlan) -> str:
    return f"{int(plan.run_id[1:]):040x}"


@pytest.fixture
def plans(store: EventStore) -> list[RunPlan]:
    """A folded, mixed history of 40 runs."""
    plans, streams = history(runs=40, seed=7)
    append_interleaved(store, streams, seed=8)
    projector(store).catch_up_all(batch=64)
    return plans


def test_an_image_is_found_by_its_id_and_by_a_pushed_digest_with_all_its_facts(
    store: EventStore, plans: list[RunPlan]
) -> None:
    pushed = [p for p in plans if p.pushes]
    assert pushed, "the generated history has succeeded runs"
    for plan in pushed:
        index = int(plan.run_id[1:])
        facts = find_image(store, image_of(plan))
        assert facts is not None
        assert (facts.run_id, facts.step, facts.commit) == (
            plan.run_id,
            "build",
            commit_of(plan),
        )
        assert [(b.name, b.digest) for b in facts.base_images] == [("debian:bookworm", BASE)]
        assert facts.build_args == {"VERSION": str(index)}
        assert facts.labels == {REVISION: commit_of(plan)}
        assert [(p.tag, p.digest) for p in facts.pushes] == [
            ("latest", f"sha256:e{index:063x}"),
            (str(index), f"sha256:e{index:063x}"),
        ]
        assert [(t.step, t.passed, t.skipped) for t in facts.tests] == [("test", 10, 1)]
        assert find_image(store, f"sha256:e{index:063x}") == facts
    assert find_image(store, "sha256:" + "9" * 64) is None


def test_images_are_found_from_a_commit_a_base_image_digest_or_a_label(
    store: EventStore, plans: list[RunPlan]
) -> None:
    built = sorted(image_of(p) for p in plans if p.images)
    plan = next(p for p in plans if p.images)
    assert sorted(i.image_id for i in images_on_base(store, BASE)) == built
    assert images_on_base(store, "sha256:" + "0" * 64) == []
    (by_commit,) = images_from_commit(store, commit_of(plan))
    assert (by_commit.image_id, by_commit.run_id) == (image_of(plan), plan.run_id)
    (by_label,) = images_with_label(store, REVISION, commit_of(plan))
    assert by_label.image_id == image_of(plan)
    assert sorted(i.image_id for i in images_with_label(store, REVISION)) == built


def test_reverse_answers_come_a_page_at_a_time_oldest_build_first(
    store: EventStore, plans: list[RunPlan]
) -> None:
    everything = images_on_base(store, BASE, page=Page(limit=1000))
    seen: list[str] = []
    page = images_on_base(store, BASE, page=Page(limit=3))
    while page:
        seen += [i.image_id for i in page]
        page = images_on_base(store, BASE, page=Page(Cursor.parse(page[-1].cursor), 3))
    assert seen == [i.image_id for i in everything]
    assert len(seen) == sum(1 for p in plans if p.images) > 3


def test_as_of_a_cursor_answers_from_the_events_up_to_it(
    store: EventStore, plans: list[RunPlan]
) -> None:
    plan = next(p for p in plans if p.pushes)
    events = store.read_stream(f"run-{plan.run_id}")
    built = next(e for e in events if e.type_name == "ImageBuilt")
    first_push = next(e for e in events if e.type_name == "ImagePushed")
    before = max(e.cursor for e in store.read_all() if e.cursor < built.cursor)
    assert find_image(store, image_of(plan), before) is None
    then = find_image(store, image_of(plan), built.cursor)
    assert then is not None and then.pushes == []
    assert images_on_base(store, BASE, built.cursor)[-1].image_id == image_of(plan)
    pushed_then = find_image(store, image_of(plan), first_push.cursor)
    assert pushed_then is not None and [p.tag for p in pushed_then.pushes] == ["latest"]


# --- over HTTP ----------------------------------------------------------------------------


def detail_fields(response: Any) -> list[str]:
    return [item["loc"][-1] for item in response.json()["detail"]]


def test_the_api_answers_an_image_and_the_reverse_questions(
    client: TestClient, plans: list[RunPlan]
) -> None:
    plan = next(p for p in plans if p.pushes)
    response = client.get(f"/api/images/{image_of(plan)}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["commit"] == commit_of(plan)
    assert body["base_images"] == [{"name": "debian:bookworm", "digest": BASE}]
    listed = client.get("/api/images", params={"label": f"{REVISION}={commit_of(plan)}"})
    assert [i["image_id"] for i in listed.json()] == [image_of(plan)]
    by_commit = client.get("/api/images", params={"commit": commit_of(plan)})
    assert [i["run_id"] for i in by_commit.json()] == [plan.run_id]


def test_the_api_says_what_is_wrong_with_an_image_question(
    client: TestClient, plans: list[RunPlan]
) -> None:
    missing = client.get("/api/images/sha256:" + "9" * 64)
    assert missing.status_code == 404 and "no image" in missing.json()["detail"]
    bad_as_of = client.get(f"/api/images/{image_of(plans[0])}", params={"as_of": "soon"})
    assert bad_as_of.status_code == 422 and detail_fields(bad_as_of) == ["as_of"]
    nothing = client.get("/api/images")
    assert nothing.status_code == 422 and "exactly one" in nothing.text
    two = client.get("/api/images", params={"commit": "abcdef12", "base": BASE})
    assert two.status_code == 422 and "exactly one" in two.text
    bad_after = client.get("/api/images", params={"base": BASE, "after": "later"})
    assert bad_after.status_code == 422 and detail_fields(bad_after) == ["after"]
    bad_base = client.get("/api/images", params={"base": "sha256:xyz"})
    assert bad_base.status_code == 422 and detail_fields(bad_base) == ["base"]


def test_an_image_question_before_the_projection_caught_up_is_a_503_not_a_500(
    settings: Settings, store: EventStore
) -> None:
    with TestClient(create_app(settings), headers=bearer(store, "admin", Role.ADMIN)) as client:
        response = client.get("/api/images/sha256:" + "9" * 64)
    assert response.status_code == 503
    assert "has not caught up" in response.json()["detail"]


# --- on the command line ------------------------------------------------------------------


def test_shiplog_image_and_images_answer_on_the_command_line(
    cli: Any, plans: list[RunPlan]
) -> None:
    from app.cli import app

    plan = next(p for p in plans if p.pushes)
    shown = cli.invoke(app, ["image", image_of(plan)])
    assert shown.exit_code == 0, shown.output
    assert (
        f"run {plan.run_id}" in shown.output
        and f"base        debian:bookworm = {BASE}" in shown.output
    )
    as_json = cli.invoke(app, ["image", image_of(plan), "--json"])
    assert json.loads(as_json.output)["commit"] == commit_of(plan)
    listed = cli.invoke(app, ["images", "--label", f"{REVISION}={commit_of(plan)}"])
    assert listed.exit_code == 0 and listed.output.split()[0] == image_of(plan)


def test_shiplog_image_mistakes_end_in_one_line_not_a_traceback(
    plans: list[RunPlan], cli: Any
) -> None:
    import subprocess
    import sys

    del cli  # the environment it set up (SHIPLOG_HOME, SHIPLOG_DATABASE_URL) is what matters
    for args, expected in (
        (["image", "sha256:" + "9" * 64], "no image with id or pushed digest"),
        (["image", image_of(plans[0]), "--as-of", "soonish"], "invalid as_of 'soonish'"),
        (["images"], "give exactly one of --commit, --base or --label"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", "from app.cli import main; main()", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 2, (args, done.stderr)
        assert expected in done.stderr and "Traceback" not in done.stderr
