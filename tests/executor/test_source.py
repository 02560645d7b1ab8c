"""A run's source: facts about real git checkouts, and workspaces cloned or copied from them."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.executor.source import (
    CheckoutFacts,
    SourceError,
    SourceFileMissing,
    inspect_checkout,
    prepare_workspace,
    read_file_at,
    strip_credentials,
)


@pytest.fixture(autouse=True)
def git_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A private git configuration: an identity, `main` as the first branch, nothing global."""
    config = tmp_path / "gitconfig"
    config.write_text(
        "[user]\n\tname = Test\n\temail = test@example.org\n[init]\n\tdefaultBranch = main\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def git(cwd: Path, *args: str, date: str | None = None) -> str:
    env = dict(os.environ)
    if date is not None:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def make_repo(path: Path) -> Path:
    """A repository with one commit: README, a script, a symlink, .gitignore ignoring *.log."""
    path.mkdir(parents=True)
    git(path, "init", "--quiet")
    (path / "README").write_text("v1\n")
    (path / "build.sh").write_text("#!/bin/sh\necho build\n")
    (path / "build.sh").chmod(0o755)
    (path / "docs").mkdir()
    (path / "docs" / "guide.md").write_text("guide\n")
    (path / "latest").symlink_to("README")
    (path / ".gitignore").write_text("*.log\n")
    git(path, "add", ".")
    git(path, "commit", "--quiet", "-m", "first", date="2024-05-01T12:00:00+02:00")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


# --- inspect_checkout --------------------------------------------------------------------------


def test_inspect_reports_root_commit_branch_time_and_origin_without_credentials(
    repo: Path,
) -> None:
    git(repo, "remote", "add", "origin", "https://alice:s3cret@git.example/acme/web.git")
    facts = inspect_checkout(repo / "docs")  # from a subdirectory
    assert facts == CheckoutFacts(
        root=repo,
        repository="https://git.example/acme/web.git",
        commit=git(repo, "rev-parse", "HEAD"),
        ref="refs/heads/main",
        branch="main",
        commit_time=datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        dirty=False,
    )
    assert len(facts.commit) == 40


def test_a_repository_without_origin_is_named_by_a_file_url(repo: Path) -> None:
    assert inspect_checkout(repo).repository == f"file://{repo}"


@pytest.mark.parametrize(
    ("url", "stripped"),
    [
        ("https://alice:s3cret@git.example/a.git", "https://git.example/a.git"),
        ("https://ghp_token@github.com:8443/a.git", "https://github.com:8443/a.git"),
        ("ssh://git:pw@git.example/a.git", "ssh://git@git.example/a.git"),
        ("ssh://git@git.example/a.git", "ssh://git@git.example/a.git"),
        ("git@github.com:acme/web.git", "git@github.com:acme/web.git"),
        ("/srv/git/web.git", "/srv/git/web.git"),
    ],
)
def test_credentials_are_stripped_from_remote_urls(url: str, stripped: str) -> None:
    assert strip_credentials(url) == stripped


def test_a_modified_tracked_file_makes_the_checkout_dirty(repo: Path) -> None:
    (repo / "README").write_text("changed\n")
    assert inspect_checkout(repo).dirty


def test_an_untracked_file_makes_the_checkout_dirty(repo: Path) -> None:
    (repo / "notes.txt").write_text("new\n")
    assert inspect_checkout(repo).dirty


def test_an_ignored_file_does_not_make_the_checkout_dirty(repo: Path) -> None:
    (repo / "debug.log").write_text("noise\n")
    assert not inspect_checkout(repo).dirty


def test_a_detached_head_at_a_tag_gives_the_tag_ref(repo: Path) -> None:
    git(repo, "tag", "-a", "v1.0.0", "-m", "release")
    git(repo, "checkout", "--quiet", "--detach")
    facts = inspect_checkout(repo)
    assert (facts.ref, facts.branch) == ("refs/tags/v1.0.0", None)


def test_a_detached_head_elsewhere_gives_head(repo: Path) -> None:
    git(repo, "tag", "v1")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "second")
    git(repo, "checkout", "--quiet", "--detach")
    facts = inspect_checkout(repo)
    assert (facts.ref, facts.branch) == ("HEAD", None)


def test_a_directory_outside_any_repository_is_refused_by_name(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(SourceError, match=re.escape(f"{plain} is not a git checkout")):
        inspect_checkout(plain)
    with pytest.raises(SourceError, match="no such directory"):
        inspect_checkout(tmp_path / "missing")


def test_a_repository_without_commits_is_refused_by_name(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "--quiet")
    with pytest.raises(SourceError, match=re.escape(f"{empty}: the repository has no commits yet")):
        inspect_checkout(empty)


def test_missing_git_is_reported_clearly(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    with pytest.raises(SourceError, match=re.escape(f"inspecting {repo}: git is not installed")):
        inspect_checkout(repo)


# --- prepare_workspace ---------------------------------------------------------------------------


def all_can_read_and_write(path: Path) -> bool:
    mode = path.lstat().st_mode
    return bool(mode & stat.S_IROTH and mode & stat.S_IWOTH)


def test_a_clean_clone_at_an_older_commit_has_that_commits_content(
    repo: Path, tmp_path: Path
) -> None:
    first = git(repo, "rev-parse", "HEAD")
    (repo / "README").write_text("v2\n")
    git(repo, "commit", "--quiet", "-am", "second")
    workspace = tmp_path / "ws"

    prepare_workspace(None, clone_from=str(repo), commit=first, workspace=workspace, dirty=False)

    assert (workspace / "README").read_text() == "v1\n"
    assert git(workspace, "rev-parse", "HEAD") == first
    assert git(workspace, "status", "--porcelain") == ""
    tree = [workspace, *(p for p in workspace.rglob("*") if ".git" not in p.parts)]
    assert all(all_can_read_and_write(p) for p in tree)
    assert all(p.stat().st_mode & stat.S_IROTH for p in (workspace / ".git").rglob("*"))
    assert os.access(workspace / "build.sh", os.X_OK)
    # Objects hard-linked from the source repository keep the source's modes.
    assert not any(p.stat().st_mode & stat.S_IWOTH for p in (repo / ".git/objects").rglob("*"))


def test_a_clean_clone_of_a_missing_commit_fails_clearly(repo: Path, tmp_path: Path) -> None:
    gone = "0123456789abcdef0123456789abcdef01234567"
    with pytest.raises(SourceError, match=re.escape(f"commit {gone} is not in {repo}")):
        prepare_workspace(
            None, clone_from=str(repo), commit=gone, workspace=tmp_path / "ws", dirty=False
        )


def test_a_workspace_that_is_not_empty_is_refused(repo: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "leftover").write_text("x")
    with pytest.raises(SourceError, match="not an empty directory"):
        prepare_workspace(
            None, clone_from=str(repo), commit="HEAD", workspace=workspace, dirty=False
        )


def test_a_dirty_copy_carries_uncommitted_changes_and_no_ignored_files(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "README").write_text("uncommitted\n")
    (repo / "new.txt").write_text("untracked\n")
    (repo / "debug.log").write_text("ignored\n")
    (repo / "docs" / "guide.md").unlink()
    facts = inspect_checkout(repo)
    workspace = tmp_path / "ws"

    prepare_workspace(
        facts, clone_from="unused", commit=facts.commit, workspace=workspace, dirty=True
    )

    assert (workspace / "README").read_text() == "uncommitted\n"
    assert (workspace / "new.txt").read_text() == "untracked\n"
    assert not (workspace / "debug.log").exists()
    assert not (workspace / "docs" / "guide.md").exists()
    assert (workspace / "latest").is_symlink() and os.readlink(workspace / "latest") == "README"
    assert os.access(workspace / "build.sh", os.X_OK)
    assert all(all_can_read_and_write(p) for p in [workspace, workspace / "README"])
    # The copied .git lets steps use git: it sees the same changes as the checkout.
    assert git(workspace, "rev-parse", "HEAD") == facts.commit
    assert git(workspace, "status", "--porcelain") == git(repo, "status", "--porcelain")


def test_a_dirty_copy_without_facts_inspects_the_local_checkout(repo: Path, tmp_path: Path) -> None:
    (repo / "README").write_text("uncommitted\n")
    commit = git(repo, "rev-parse", "HEAD")
    workspace = tmp_path / "ws"
    prepare_workspace(None, clone_from=str(repo), commit=commit, workspace=workspace, dirty=True)
    assert (workspace / "README").read_text() == "uncommitted\n"


def test_a_dirty_copy_needs_the_checkout_here_and_at_the_same_commit(
    repo: Path, tmp_path: Path
) -> None:
    with pytest.raises(SourceError, match="a dirty run copies a local checkout"):
        prepare_workspace(
            None,
            clone_from="https://git.example/a.git",
            commit="0" * 40,
            workspace=tmp_path / "ws",
            dirty=True,
        )
    facts = inspect_checkout(repo)
    with pytest.raises(SourceError, match="based on"):
        prepare_workspace(
            facts, clone_from=str(repo), commit="0" * 40, workspace=tmp_path / "ws", dirty=True
        )


def test_a_dirty_copy_of_a_linked_worktree_gets_a_git_directory_of_its_own(
    repo: Path, tmp_path: Path
) -> None:
    tree = tmp_path / "feature-tree"
    git(repo, "worktree", "add", "--quiet", "-b", "feature", str(tree))
    (tree / "README").write_text("feature work\n")
    facts = inspect_checkout(tree)
    workspace = tmp_path / "ws"

    prepare_workspace(
        facts, clone_from=str(tree), commit=facts.commit, workspace=workspace, dirty=True
    )

    assert (workspace / ".git").is_dir()
    assert git(workspace, "rev-parse", "HEAD") == facts.commit
    assert git(workspace, "symbolic-ref", "--short", "HEAD") == "feature"
    assert git(workspace, "status", "--porcelain") == "M README"


# --- read_file_at --------------------------------------------------------------------------------


def test_read_file_at_reads_inside_the_workspace(repo: Path) -> None:
    assert read_file_at(repo, "docs/guide.md") == b"guide\n"
    assert read_file_at(repo, "latest") == b"v1\n"  # a link that stays inside
    with pytest.raises(SourceFileMissing, match=r"no file nope\.yml"):
        read_file_at(repo, "nope.yml")


@pytest.mark.parametrize(
    "relative", ["../secret.txt", "docs/../../secret.txt", "/etc/passwd", "out"]
)
def test_read_file_at_refuses_paths_that_escape(repo: Path, tmp_path: Path, relative: str) -> None:
    (tmp_path / "secret.txt").write_text("outside")
    (repo / "out").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(SourceError, match=r"outside the workspace|not a path relative"):
        read_file_at(repo, relative)
