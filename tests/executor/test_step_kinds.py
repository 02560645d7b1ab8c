"""Executor pieces without Docker: each step model has one kind; `when` decides the skips."""

from __future__ import annotations

import pytest

from app.executor.kinds.registry import KINDS, kind_of
from app.executor.scheduling import when_rules_out
from app.pipeline import When, parse_pipeline
from app.pipeline.steps import STEP_KINDS

EVERY_KIND = """\
name: kinds
steps:
  - name: build
    build: {tags: [app]}
  - name: test
    image: app
    commands: [make test]
  - name: scan
    scan: {image: build}
  - name: push
    push: {image: app, repository: registry.example/app, tags: ["1"]}
"""


def test_every_step_model_of_the_pipeline_has_exactly_one_executor_kind() -> None:
    models = [kind.model for kind in KINDS]
    assert sorted(m.__name__ for m in models) == sorted(m.__name__ for m in STEP_KINDS.values())
    assert len(set(models)) == len(models)


def test_each_step_is_run_by_the_kind_of_its_model() -> None:
    pipeline = parse_pipeline(EVERY_KIND)
    assert {step.name: kind_of(step).model.key for step in pipeline.steps} == {
        "build": "build",
        "test": None,
        "scan": "scan",
        "push": "push",
    }


@pytest.mark.parametrize(
    ("when", "ref", "failed_before", "reason"),
    [
        (When(), "refs/heads/main", False, None),
        (When(), "refs/heads/main", True, "an earlier step failed"),
        (When(status=("failure",)), "refs/heads/main", False, "its `when` does not match"),
        (When(status=("failure",)), "refs/heads/main", True, None),
        (When(branch=("release/*",)), "refs/heads/main", True, "its `when` does not match"),
        (When(branch=("release/*",)), "refs/heads/release/1", False, None),
        (When(branch=("release/*",)), "refs/tags/v1", False, None),  # a tag has no branch
        (When(event=("push",)), "refs/heads/main", False, "its `when` does not match"),
    ],
)
def test_when_rules_a_step_out_and_blames_a_failure_only_when_the_failure_decided(
    when: When, ref: str, failed_before: bool, reason: str | None
) -> None:
    assert when_rules_out(when, ref=ref, trigger="manual", failed_before=failed_before) == reason
