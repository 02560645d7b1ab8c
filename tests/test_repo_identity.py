"""A repository has one identity however it is written: clone URLs, payload names, CDEvents."""

from __future__ import annotations

import pytest

from app.repo_identity import (
    NotARepository,
    canonical_repository,
    clone_secret_name,
    comparable_repository,
    repository_id,
    same_repository,
)
from events.streams import validate_stream

SPELLINGS_OF_ACME_WEB = [
    "https://github.com/acme/web",
    "https://github.com/acme/web.git",
    "https://github.com/Acme/Web",
    "https://github.com/acme/web/",
    "http://github.com/acme/web.git",
    "https://x-access-token:ghs_secret@github.com/acme/web.git",
    "https://GitHub.com:443/acme/web.git",
    "git@github.com:acme/web.git",
    "git@github.com:acme/web",
    "github.com:acme/web.git",
    "ssh://git@github.com/acme/web.git",
    "ssh://git@github.com:22/acme/web.git",
    "git+ssh://git@github.com/acme/web",
    "git://github.com/acme/web.git",
    "github.com/acme/web",
    "  https://github.com/acme/web  ",
]


@pytest.mark.parametrize("spelling", SPELLINGS_OF_ACME_WEB)
def test_every_spelling_of_a_github_repository_has_one_identity(spelling: str) -> None:
    assert canonical_repository(spelling) == "github.com/acme/web"


@pytest.mark.parametrize(
    ("spelling", "identity"),
    [
        (
            "https://gitlab.example.com/group/sub/project.git",
            "gitlab.example.com/group/sub/project",
        ),
        ("git@gitlab.example.com:group/sub/project.git", "gitlab.example.com/group/sub/project"),
        (
            "https://gitlab.example.com/group/sub/project/-/tree/main",
            "gitlab.example.com/group/sub/project",
        ),
        ("http://localhost:3000/acme/web.git", "localhost/acme/web"),
        ("ssh://git@localhost:2222/acme/web.git", "localhost/acme/web"),
        ("localhost:3000/acme/web", "localhost/acme/web"),
        ("https://gitea.example.org/my.org/my_repo.js", "gitea.example.org/my.org/my_repo.js"),
    ],
)
def test_gitlab_subgroups_and_self_hosted_ports(spelling: str, identity: str) -> None:
    assert canonical_repository(spelling) == identity


@pytest.mark.parametrize("host", ["github.com", "https://github.com", "github.com:443"])
def test_a_payload_name_takes_the_forge_host_given(host: str) -> None:
    assert canonical_repository("acme/web", host=host) == "github.com/acme/web"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "a repository is needed"),
        ("acme/web", "names no host"),
        ("file:///srv/git/web", "local path"),
        ("https://github.com/acme", "owner/name"),
        ("ftp://github.com/acme/web", "scheme"),
        ("https://github.com/acme/../web", "not a repository path segment"),
        ("https://github.com:abc/acme/web", "not a valid URL"),
        ("https://github.com/acme/web\x00", "control characters"),
        ("https://exa mple.com/acme/web", "not a host name"),
        ("https://github.com/" + "a" * 200 + "/web", "longer than"),
    ],
)
def test_what_names_no_repository_is_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(NotARepository, match=says):
        repository_id(text)


def test_the_identity_is_a_valid_stream_id() -> None:
    identity = repository_id("git@gitlab.example.com:group/sub/my.project-x_1.git")
    assert validate_stream(identity.stream) == "repo-gitlab.example.com/group/sub/my.project-x_1"
    assert identity.name == "my.project-x_1"


def test_comparisons_keep_what_is_not_a_forge_repository() -> None:
    assert comparable_repository("file:///home/me/web") == "file:///home/me/web"
    assert comparable_repository("acme/web") == "acme/web"
    assert same_repository("git@github.com:acme/web.git", "https://github.com/ACME/web")
    assert not same_repository("https://github.com/acme/web", "https://gitlab.com/acme/web")


def test_each_repository_has_its_own_clone_secret_name() -> None:
    first = clone_secret_name(repository_id("https://github.com/acme/web-x"))
    second = clone_secret_name(repository_id("https://github.com/acme/web_x"))
    assert first != second
    assert first == clone_secret_name("github.com/acme/web-x")
    assert first.startswith("SHIPLOG_CLONE_") and first.replace("_", "").isalnum()
