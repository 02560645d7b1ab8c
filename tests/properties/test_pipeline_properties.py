"""The pipeline parser never crashes: any text, any YAML shaped like a pipeline or not,
gives either a pipeline or PipelineError whose every problem names the file and a line.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from app.pipeline import PipelineError, parse_pipeline

KEYS = [
    "name", "steps", "services", "image", "commands", "environment", "secrets", "when",
    "depends_on", "build", "push", "scan", "context", "tags", "repository", "branch", "event",
    "status", "timeout", "reports", "args", "labels", "dockerfile", "target", "fail_on",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**6)
    | st.text(max_size=20)
    | st.sampled_from(["busybox", "app:1", "echo hi", "main", "push", "success", "30"])
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


def check(text: str) -> None:
    try:
        parse_pipeline(text, ".shiplog.yml", known_secrets={"TOKEN"})
    except PipelineError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file == ".shiplog.yml"
            assert problem.line is not None and problem.line >= 1, str(problem)
            assert problem.message


@settings(max_examples=150, deadline=None)
@given(documents)
def test_any_yaml_document_gives_a_pipeline_or_located_problems(document: Any) -> None:
    check(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_pipeline_or_located_problems(text: str) -> None:
    check(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(KEYS), documents, max_size=6), max_size=4))
def test_any_list_of_steps_gives_a_pipeline_or_located_problems(steps: list[Any]) -> None:
    check(yaml.safe_dump({"name": "p", "steps": steps}, sort_keys=False))
