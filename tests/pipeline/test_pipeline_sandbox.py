"""The sandbox keys of steps and services, and secrets in builds, as the pipeline file has them."""

from __future__ import annotations

import textwrap

import pytest

from app.pipeline import CommandStep, PipelineError, parse_pipeline


def refused(text: str, **checks: object) -> list[str]:
    """The problem lines a pipeline text is refused with (fails if it is accepted)."""
    with pytest.raises(PipelineError) as caught:
        parse_pipeline(textwrap.dedent(text).lstrip("\n"), **checks)  # type: ignore[arg-type]
    return str(caught.value).splitlines()


def test_resources_read_memory_in_binary_units_cpus_as_a_number_and_pids() -> None:
    pipeline = parse_pipeline(
        textwrap.dedent("""\
        name: x
        services:
          - name: db
            image: postgres:16
            resources: {memory: 1.5g}
        steps:
          - name: test
            image: busybox
            user: "1000:1000"
            resources: {memory: 512m, cpus: 0.5, pids: 256}
        """)
    )
    step = pipeline.steps[0]
    assert isinstance(step, CommandStep)
    assert (step.resources.memory, step.resources.cpus, step.resources.pids) == (
        512 * 1024**2,
        0.5,
        256,
    )
    assert step.user == "1000:1000"
    assert pipeline.services[0].resources.memory == int(1.5 * 1024**3)
    assert pipeline.privileges_asked() == frozenset()


def test_bad_resources_are_refused_at_their_lines() -> None:
    assert refused("""
        name: x
        steps:
          - name: test
            image: busybox
            resources: {memory: lots, cpus: "2", pids: 2}
            user: "root; rm -rf /"
        """) == [
        ".shiplog.yml:5:25: steps[0].resources.memory: 'lots' is not a memory size: write it "
        'like "512m" or "2g"',
        ".shiplog.yml:5:37: steps[0].resources.cpus: expected a number of CPUs like 0.5 or 2",
        ".shiplog.yml:5:48: steps[0].resources.pids: must be at least 8, not 2",
        ".shiplog.yml:6:11: steps[0].user: 'root; rm -rf /' is not a user name or uid, "
        "optionally with ':' and a group",
    ]


def test_a_secret_build_argument_is_refused_at_its_line_saying_to_mount_it() -> None:
    (line,) = refused("""
        name: x
        steps:
          - name: build
            build:
              tags: [app]
              args:
                NPM_TOKEN: {from_secret: NPM_TOKEN}
        """)
    assert line.startswith(
        ".shiplog.yml:7:20: steps[0].build.args.NPM_TOKEN: a secret build argument stays in the "
        "built image's history and config"
    )
    assert "list 'NPM_TOKEN' under build.secrets" in line
    assert "`RUN --mount=type=secret,id=NPM_TOKEN ...`" in line


def test_privileges_are_refused_where_the_repository_was_not_allowed_them() -> None:
    text = """
        name: x
        services:
          - name: docker
            image: docker:dind
            privileged: true
        steps:
          - name: build
            image: docker:cli
            docker_socket: true
            host_network: true
        """
    lines = refused(text, allowed_privileges={"host-network"})
    assert lines == [
        ".shiplog.yml:5:17: services[0].privileged: this repository is not allowed 'privileged'; "
        "an administrator can allow it with `shiplog sandbox allow privileged --repo REPOSITORY`",
        ".shiplog.yml:9:20: steps[0].docker_socket: this repository is not allowed "
        "'docker-socket'; an administrator can allow it with `shiplog sandbox allow "
        "docker-socket --repo REPOSITORY`",
    ]
    allowed = {"privileged", "docker-socket", "host-network"}
    pipeline = parse_pipeline(textwrap.dedent(text).lstrip("\n"), allowed_privileges=allowed)
    assert pipeline.privileges_asked() == allowed
    parse_pipeline(textwrap.dedent(text).lstrip("\n"))  # not checked when none are given
