"""The pipeline file: what parses, what is refused (and where), the step graph, the schema."""

from __future__ import annotations

import hashlib
import re
import textwrap
from collections.abc import Collection
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from app.pipeline import (
    BuildStep,
    CommandStep,
    Pipeline,
    PipelineError,
    PushStep,
    ancestors,
    dependencies,
    load_pipeline,
    parse_pipeline,
    pipeline_digest,
    pipeline_schema,
    ready,
)
from tests.paths import PROJECT_ROOT

EXAMPLES = Path(__file__).resolve().parent / "pipelines"
SECRETS = {"POSTGRES_PASSWORD", "PIP_INDEX_TOKEN", "REGISTRY_USER", "REGISTRY_PASSWORD"}


def refused(text: str, known_secrets: Collection[str] | None = None) -> list[str]:
    """The problem lines a pipeline text is refused with (fails if it is accepted)."""
    with pytest.raises(PipelineError) as caught:
        parse_pipeline(textwrap.dedent(text).lstrip("\n"), known_secrets=known_secrets)
    return str(caught.value).splitlines()


def parse(text: str) -> Pipeline:
    """A pipeline from an indented literal."""
    return parse_pipeline(textwrap.dedent(text).lstrip("\n"))


def doc_examples() -> list[str]:
    """The YAML blocks of docs/pipeline.md that are complete pipeline files."""
    text = (PROJECT_ROOT / "docs" / "pipeline.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    return [block for block in blocks if block.startswith("# .shiplog.yml")]


# -- valid files -------------------------------------------------------------------------


def test_full_example_parses_into_typed_steps_services_and_trigger() -> None:
    pipeline = load_pipeline(EXAMPLES / "full.yml", known_secrets=SECRETS)

    assert pipeline.name == "web"
    assert pipeline.step_names == ("build", "lint", "test", "push", "report-failure")
    build, lint, test, push, report = pipeline.steps
    assert isinstance(build, BuildStep)
    assert build.build.dockerfile == "docker/Dockerfile"
    assert build.build.secrets == ("PIP_INDEX_TOKEN",)
    assert build.build.args == {"PYTHON_VERSION": "3.11"}
    assert build.timeout == 20 * 60
    assert isinstance(test, CommandStep)
    assert test.reports == ("reports/*.xml",)
    assert test.secrets == ("POSTGRES_PASSWORD",)
    assert test.timeout == 15 * 60
    assert lint.timeout == 3600
    assert isinstance(push, PushStep)
    assert push.push.repository == "registry.example.com/acme/web"
    assert push.when.branch == ("main",)
    assert report.when.status == ("failure",)
    assert pipeline.services[0].name == "database"
    assert pipeline.secret_names() == SECRETS


def test_every_pipeline_in_the_user_guide_parses() -> None:
    examples = doc_examples()
    assert len(examples) >= 3
    for example in examples:
        parse_pipeline(example, "docs/pipeline.md", known_secrets=None)


def test_the_user_guides_complete_example_is_the_full_fixture() -> None:
    assert (EXAMPLES / "full.yml").read_text() in doc_examples()


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("90s", 90), ("10m", 600), ("1h30m", 5400), ("2h", 7200), (45, 45), ("120", 120)],
)
def test_timeout_takes_durations_or_seconds(written: object, seconds: int) -> None:
    pipeline = parse(f"""
        name: t
        steps:
          - name: a
            image: busybox
            timeout: {yaml.safe_dump(written).splitlines()[0]}
        """)
    assert pipeline.steps[0].timeout == seconds


def test_top_level_x_keys_hold_anchors_that_steps_merge() -> None:
    pipeline = parse("""
        name: anchors
        x-go: &go
          image: golang:1.22
          environment: {CGO_ENABLED: "0"}
        steps:
          - name: vet
            <<: *go
            commands: [go vet ./...]
          - name: test
            <<: *go
            image: golang:1.23
        """)
    vet, test = pipeline.steps
    assert isinstance(vet, CommandStep) and isinstance(test, CommandStep)
    assert vet.image == "golang:1.22" and vet.environment == {"CGO_ENABLED": "0"}
    assert test.image == "golang:1.23"


# -- refused files: where and why ----------------------------------------------------------


def test_bad_yaml_is_refused_at_the_parsers_position() -> None:
    lines = refused("""
        name: x
        steps:
          - name: a
            image: [busybox
          - name: b
        """)
    assert lines == [
        ".shiplog.yml:5:9: invalid YAML: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence at line 4, column 12)"
    ]


def test_unknown_key_nested_deep_is_refused_at_the_key_with_a_suggestion() -> None:
    lines = refused("""
        name: x
        steps:
          - name: build
            build:
              tags: [app]
              args:
                TOKEN: {from_secret: TOKEN, defualt: x}
              lables: {a: b}
        """)
    assert lines == [
        ".shiplog.yml:7:37: steps[0].build.args.TOKEN.defualt: unknown key 'defualt'; "
        "allowed: from_secret",
        ".shiplog.yml:8:7: steps[0].build.lables: unknown key 'lables' (did you mean 'labels'?); "
        "allowed: context, dockerfile, target, args, secrets, tags, labels",
    ]


def test_a_key_of_another_step_kind_is_named_with_the_kind() -> None:
    lines = refused("""
        name: x
        steps:
          - name: build
            image: busybox
            build: {tags: [app]}
        """)
    assert lines[0].startswith(
        ".shiplog.yml:4:5: steps[0].image: unknown key 'image' in a build step"
    )


def test_dependency_cycle_is_refused_and_named() -> None:
    lines = refused("""
        name: x
        steps:
          - name: a
            image: busybox
            depends_on: [c]
          - name: b
            image: busybox
            depends_on: [a]
          - name: c
            image: busybox
            depends_on: [b]
        """)
    assert lines == [
        ".shiplog.yml:5:18: steps[0].depends_on[0]: dependency cycle: a -> c -> b -> a "
        "(each step waits for the next)"
    ]


def test_unknown_depends_on_is_refused_with_the_closest_step_name() -> None:
    lines = refused("""
        name: x
        steps:
          - name: test
            image: busybox
          - name: push
            image: busybox
            depends_on: [lint, tets]
        """)
    assert lines == [
        ".shiplog.yml:7:18: steps[1].depends_on[0]: unknown step 'lint'",
        ".shiplog.yml:7:24: steps[1].depends_on[1]: unknown step 'tets' (did you mean 'test'?)",
    ]


def test_depending_on_itself_or_on_a_service_is_refused() -> None:
    lines = refused("""
        name: x
        services:
          - name: db
            image: postgres:16
        steps:
          - name: a
            image: busybox
            depends_on: [a, db]
        """)
    assert lines == [
        ".shiplog.yml:8:18: steps[0].depends_on[0]: step 'a' cannot depend on itself",
        ".shiplog.yml:8:21: steps[0].depends_on[1]: 'db' is a service, not a step; services "
        "start before every step, so there is nothing to wait for",
    ]


def test_step_without_image_is_refused_at_the_step() -> None:
    lines = refused("""
        name: x
        steps:
          - name: test
            commands: [make test]
        """)
    assert lines == [
        ".shiplog.yml:3:5: steps[0]: missing image: a step needs an 'image' to run its commands "
        "in (or a 'build:' or 'push:' mapping)"
    ]


def test_unknown_secret_names_are_refused_wherever_they_are_used() -> None:
    text = """
        name: x
        services:
          - name: db
            image: postgres:16
            secrets: [DB_PASS]
        steps:
          - name: build
            build:
              tags: [app]
              secrets: [TOKN]
          - name: test
            image: app
            secrets: [DB_PASSWORD]
          - name: push
            push:
              image: app
              repository: registry.example.com/app
              tags: [v1]
              username: {from_secret: REGISTRY_USER}
              password: {from_secret: REGISTRY_PASWORD}
        """
    known = {"DB_PASSWORD", "TOKEN", "REGISTRY_USER", "REGISTRY_PASSWORD"}
    assert refused(text, known_secrets=known) == [
        ".shiplog.yml:5:15: services[0].secrets[0]: unknown secret 'DB_PASS' "
        "(did you mean 'DB_PASSWORD'?)",
        ".shiplog.yml:10:17: steps[0].build.secrets[0]: unknown secret 'TOKN' "
        "(did you mean 'TOKEN'?)",
        ".shiplog.yml:20:31: steps[2].push.password.from_secret: unknown secret "
        "'REGISTRY_PASWORD' (did you mean 'REGISTRY_PASSWORD'?)",
    ]
    assert parse(text).secret_names() == {"DB_PASS", "TOKN", "DB_PASSWORD", "REGISTRY_USER"} | {
        "REGISTRY_PASWORD"
    }


def test_duplicate_step_name_is_refused_at_the_second_name() -> None:
    lines = refused("""
        name: x
        steps:
          - name: test
            image: busybox
          - name: test
            image: busybox
        """)
    assert lines == [
        ".shiplog.yml:5:11: steps[1].name: duplicate step name 'test' (already used by steps[0])"
    ]


@pytest.mark.parametrize("kind", ["deploy"])
def test_reserved_step_kinds_are_refused_as_reserved_for_later_work(kind: str) -> None:
    lines = refused(f"""
        name: x
        steps:
          - name: later
            {kind}:
              target: production
        """)
    assert lines == [
        f".shiplog.yml:4:5: steps[0].{kind}: '{kind}' steps are reserved for later work and "
        "cannot be used yet; run it as a step with commands until then"
    ]


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ('"10 minutes"', '\'10 minutes\' is not a duration: write it like "90s", "10m" or "1h30m"'),
        ("0", "a timeout must be between 1 second and 24h, not 0 seconds"),
        ("25h", "a timeout must be between 1 second and 24h, not 90000 seconds"),
        ("true", 'expected a duration like "90s", "10m", "1h30m" or a whole number of seconds'),
    ],
)
def test_bad_timeout_is_refused_at_the_value(written: str, message: str) -> None:
    lines = refused(f"""
        name: x
        steps:
          - name: a
            image: busybox
            timeout: {written}
        """)
    assert lines == [f".shiplog.yml:5:14: steps[0].timeout: {message}"]


def test_values_yaml_reads_as_numbers_or_booleans_must_be_quoted() -> None:
    lines = refused("""
        name: x
        steps:
          - name: a
            image: busybox
            environment:
              PORT: 5432
              DEBUG: yes
        """)
    assert lines == [
        ".shiplog.yml:6:13: steps[0].environment.PORT: expected a string, got number 5432; "
        'quote it: "5432"',
        ".shiplog.yml:7:14: steps[0].environment.DEBUG: expected a string, got boolean yes; "
        'quote it: "yes"',
    ]


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    lines = refused("""
        name: x
        trigger:
          events: [push, tags]
        steps:
          - name: a
            commands: [make]
          - name: a
            image: Busybox
          - name: b
            build: {tags: [app]}
            push: {image: app}
        """)
    assert [line.split(": ")[0] for line in lines] == [
        ".shiplog.yml:3:18",
        ".shiplog.yml:5:5",
        ".shiplog.yml:7:11",
        ".shiplog.yml:8:12",
        ".shiplog.yml:11:5",
    ]
    assert "(did you mean 'tag'?)" in lines[0]
    assert "duplicate step name 'a'" in lines[2]
    assert "'Busybox' is not an image reference" in lines[3]
    assert "cannot have both 'build' and 'push'" in lines[4]


def test_a_command_with_an_unquoted_colon_is_explained() -> None:
    lines = refused("""
        name: x
        steps:
          - name: a
            image: busybox
            commands:
              - echo note: done
        """)
    assert lines == [
        ".shiplog.yml:6:9: steps[0].commands[0]: expected a string, got a mapping; an unquoted "
        "': ' starts a mapping, so quote the whole value"
    ]


def test_duplicate_yaml_key_is_refused_instead_of_silently_overwritten() -> None:
    lines = refused("""
        name: x
        steps:
          - name: a
            image: busybox
            image: alpine
        """)
    assert lines == [".shiplog.yml:5:5: duplicate key 'image' (first at line 4)"]


def test_steps_written_as_a_mapping_are_refused_with_the_list_form() -> None:
    lines = refused("""
        name: x
        steps:
          build:
            image: busybox
        """)
    assert lines == [
        ".shiplog.yml:3:3: steps: expected a list, got a mapping; write each step as a list "
        "item with a name: '- name: build'"
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("", ".shiplog.yml:1:1: the file is empty; a pipeline needs at least 'name' and 'steps'"),
        ("name: x\nsteps: []\n", ".shiplog.yml:2:8: steps: a pipeline needs at least one step"),
        (
            "- a\n",
            ".shiplog.yml:1:1: the top level must be a mapping with 'name', 'steps' and so on",
        ),
    ],
)
def test_empty_files_and_empty_steps_are_refused(text: str, line: str) -> None:
    assert refused(text) == [line]


def test_push_credentials_come_in_pairs() -> None:
    lines = refused("""
        name: x
        steps:
          - name: build
            build: {tags: [app]}
          - name: push
            push:
              image: app
              repository: registry.example.com/app
              tags: [v1]
              username: {from_secret: REGISTRY_USER}
        """)
    assert lines == [
        ".shiplog.yml:7:7: steps[1].push: give both 'username' and 'password', or neither"
    ]


def test_load_pipeline_names_the_file_and_refuses_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / ".shiplog.yml"
    path.write_bytes(b"name: x\nsteps:\n  - name: caf\xe9\n")
    with pytest.raises(PipelineError) as caught:
        load_pipeline(path)
    assert str(caught.value) == f"{path}:3:14: the file is not UTF-8 text"
    problem = caught.value.problems[0]
    assert (problem.file, problem.line, problem.column) == (str(path), 3, 14)


def test_models_built_without_the_loader_run_the_same_cross_step_checks() -> None:
    data = {"name": "x", "steps": [{"name": "a", "image": "busybox", "depends_on": ["b"]}]}
    with pytest.raises(ValidationError, match=r"steps\[0\]\.depends_on\[0\]: unknown step 'b'"):
        Pipeline.model_validate(data)


# -- the step graph ------------------------------------------------------------------------


def test_without_depends_on_each_step_waits_for_the_one_above() -> None:
    pipeline = load_pipeline(EXAMPLES / "file-order.yml")
    assert not pipeline.uses_depends_on
    assert dependencies(pipeline) == {
        "build": frozenset(),
        "unit": frozenset({"build"}),
        "integration": frozenset({"build", "unit"}),
        "push": frozenset({"build", "integration"}),
    }
    deps = dependencies(pipeline)
    assert ready(set(), set(), deps) == ["build"]
    assert ready({"build"}, set(), deps) == ["unit"]


def test_with_depends_on_independent_steps_are_ready_together_in_file_order() -> None:
    pipeline = load_pipeline(EXAMPLES / "full.yml")
    deps = dependencies(pipeline)
    assert deps["push"] == {"build", "lint", "test"}
    assert ready(set(), set(), deps) == ["build"]
    assert ready({"build"}, set(), deps) == ["lint", "test"]
    assert ready({"build"}, {"lint"}, deps) == ["test"]
    assert ready({"build", "lint"}, {"test"}, deps) == []
    assert ready({"build", "lint", "test"}, set(), deps) == ["push"]
    assert ancestors(deps)["report-failure"] == {"build", "lint", "test", "push"}


def test_steps_without_depends_on_start_at_once_in_a_dag_up_to_the_parallel_limit() -> None:
    pipeline = parse("""
        name: fan-out
        steps:
          - {name: a, image: busybox}
          - {name: b, image: busybox}
          - {name: c, image: busybox}
          - {name: d, image: busybox, depends_on: [a, b, c]}
        """)
    deps = dependencies(pipeline)
    assert ready(set(), set(), deps) == ["a", "b", "c"]
    assert ready(set(), set(), deps, limit=2) == ["a", "b"]
    assert ready(set(), {"a"}, deps, limit=2) == ["b"]
    assert ready(set(), {"a", "b"}, deps, limit=2) == []


# -- images built by an earlier step -------------------------------------------------------


def test_a_step_using_an_image_built_earlier_waits_for_that_build_step() -> None:
    pipeline = parse("""
        name: x
        steps:
          - name: build
            build: {tags: [app:ci]}
          - name: lint
            image: busybox
            depends_on: []
          - name: test
            image: app:ci
            depends_on: [lint]
          - name: push
            push: {image: app:ci, repository: localhost:5000/app, tags: [v1]}
            depends_on: []
        """)
    assert pipeline.built_by("app:ci") == "build"
    assert pipeline.built_by("busybox") is None
    deps = dependencies(pipeline)
    assert deps["test"] == {"lint", "build"}
    assert deps["push"] == {"build"}
    assert ready(set(), set(), deps) == ["build", "lint"]


def test_a_tag_without_version_means_latest_when_matching_built_images() -> None:
    pipeline = load_pipeline(EXAMPLES / "file-order.yml")
    assert pipeline.built_by("app") == "build"
    assert pipeline.built_by("app:latest") == "build"
    assert pipeline.built_by("app:other") is None


def test_using_an_image_built_by_a_later_step_is_refused() -> None:
    lines = refused("""
        name: x
        steps:
          - name: test
            image: app:ci
          - name: build
            build: {tags: [app:ci]}
        """)
    assert lines == [
        ".shiplog.yml:4:12: steps[0].image: image 'app:ci' is built by step 'build', which comes "
        "later in the file; move 'build' above this step"
    ]


def test_a_cycle_through_a_built_image_is_named_with_its_cause() -> None:
    lines = refused("""
        name: x
        steps:
          - name: build
            build: {tags: [app]}
            depends_on: [test]
          - name: test
            image: app
        """)
    assert lines == [
        ".shiplog.yml:5:18: steps[0].depends_on[0]: dependency cycle: build -> test -> build "
        "(each step waits for the next; 'test' uses the image 'build' builds)"
    ]


def test_push_of_an_image_this_pipeline_does_not_build_is_refused() -> None:
    lines = refused("""
        name: x
        steps:
          - name: build
            build: {tags: [app:ci]}
          - name: push
            push: {image: app:release, repository: registry.example.com/app, tags: [v1]}
        """)
    assert lines == [
        ".shiplog.yml:6:19: steps[1].push.image: 'app:release' is not built by any build step of "
        "this pipeline; a push step pushes an image built by this run (built tags: 'app:ci')"
    ]


def test_services_cannot_use_a_built_image_and_tags_are_built_once() -> None:
    lines = refused("""
        name: x
        services:
          - name: api
            image: app:ci
        steps:
          - name: build
            build: {tags: [app:ci]}
          - name: again
            build: {tags: [app:ci]}
        """)
    assert lines == [
        ".shiplog.yml:4:12: services[0].image: services start before any step, so they cannot "
        "use image 'app:ci' built by step 'build'",
        ".shiplog.yml:9:20: steps[1].build.tags[0]: tag 'app:ci' is already built by step 'build'",
    ]


# -- conditions ----------------------------------------------------------------------------


def test_when_matches_branch_globs_events_and_upstream_status() -> None:
    pipeline = parse("""
        name: x
        steps:
          - name: a
            image: busybox
            when:
              branch: [main, "release/*"]
              event: [push, tag]
              status: [success, failure]
        """)
    when = pipeline.steps[0].when
    assert when.matches(branch="main", event="push", status="success")
    assert when.matches(branch="release/1.4", event="push", status="failure")
    assert not when.matches(branch="release/1.4/hotfix", event="push", status="success")
    assert not when.matches(branch="main", event="manual", status="success")
    assert when.matches(branch=None, event="tag", status="success")
    default = parse("name: x\nsteps: [{name: a, image: busybox}]\n").steps[0].when
    assert default.matches(branch="any", event="api", status="success")
    assert not default.matches(branch="any", event="api", status="failure")


def test_trigger_decides_which_runs_start_the_pipeline() -> None:
    pipeline = load_pipeline(EXAMPLES / "full.yml")
    assert pipeline.triggered_by(branch="main", event="push")
    assert pipeline.triggered_by(branch="release/2024/q1", event="push")
    assert not pipeline.triggered_by(branch="feature/x", event="push")
    assert not pipeline.triggered_by(branch="main", event="pull_request")
    assert pipeline.triggered_by(branch=None, event="tag")


# -- schema and digest ---------------------------------------------------------------------


def test_schema_is_draft_2020_12_and_accepts_every_valid_example() -> None:
    schema = pipeline_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    examples = [path.read_text() for path in EXAMPLES.glob("*.yml") if path.stem != "unknown-key"]
    for text in [*examples, *doc_examples()]:
        assert list(validator.iter_errors(yaml.safe_load(text))) == []


def test_schema_rejects_a_file_with_an_unknown_key() -> None:
    validator = jsonschema.Draft202012Validator(pipeline_schema())
    data = yaml.safe_load((EXAMPLES / "unknown-key.yml").read_text())
    assert not validator.is_valid(data)
    with pytest.raises(PipelineError, match=r"unknown key 'command' .*did you mean 'commands'"):
        load_pipeline(EXAMPLES / "unknown-key.yml")
    data = yaml.safe_load((EXAMPLES / "full.yml").read_text())
    data["services"][0]["environment"]["not a name"] = "x"
    assert not validator.is_valid(data)


def test_digest_is_the_sha256_of_the_exact_bytes() -> None:
    text = (EXAMPLES / "full.yml").read_bytes()
    assert pipeline_digest(text) == "sha256:" + hashlib.sha256(text).hexdigest()
    assert pipeline_digest(text + b"\n") != pipeline_digest(text)
