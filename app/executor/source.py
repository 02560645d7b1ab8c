"""A run's source: facts about a local git checkout, and the workspace its steps run in.

Everything goes through the `git` command line. Variables that tell git which
repository to use (GIT_DIR, GIT_WORK_TREE, ...) are removed from its environment,
so shiplog started from a git hook still looks at the directory it was given,
and git never stops to prompt for a password.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_LOCATING = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
    }
)
# URL schemes whose user name is not a credential (ssh://git@host/...).
_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})


class SourceError(Exception):
    """The source of a run cannot be inspected or prepared; the message says which and why."""


class SourceFileMissing(SourceError, FileNotFoundError):
    """read_file_at found no such file in the workspace."""


@dataclass(frozen=True)
class CheckoutFacts:
    """What a run records about the checkout it was started from."""

    root: Path
    """Absolute path of the top of the work tree."""
    repository: str
    """The origin remote's URL without credentials, else file://<root>."""
    commit: str
    """Full sha of HEAD."""
    ref: str
    """refs/heads/<branch>; refs/tags/<tag> when detached exactly at a tag; else HEAD."""
    branch: str | None
    commit_time: datetime
    """HEAD's committer time, in UTC."""
    dirty: bool
    """Tracked files changed, or untracked files that are not ignored."""


def run_git(
    args: Sequence[str],
    *,
    what: str,
    check: bool = True,
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run git; SourceError starting with `what` when git is missing or (with `check`) fails.

    `extra_env` adds variables, e.g. the clone credential's header as GIT_CONFIG_*
    (app/forges/credentials.py): never on the command line, where `ps` shows it.
    """
    env = {key: value for key, value in os.environ.items() if key not in _LOCATING}
    env.update(LC_ALL="C", GIT_TERMINAL_PROMPT="0")
    env.update(extra_env or {})
    try:
        done = subprocess.run(["git", *args], env=env, capture_output=True, check=False)
    except FileNotFoundError:
        raise SourceError(f"{what}: git is not installed (no `git` command on PATH)") from None
    if check and done.returncode != 0:
        raise SourceError(f"{what}: {_detail(done)}")
    return done


def _detail(done: subprocess.CompletedProcess[bytes]) -> str:
    message = done.stderr.decode("utf-8", "replace").strip()
    return message or f"git {done.args[1:]} exited with status {done.returncode}"


def _out(done: subprocess.CompletedProcess[bytes]) -> str:
    return os.fsdecode(done.stdout).strip()


def strip_credentials(url: str) -> str:
    """`url` without user:password@ (for ssh URLs, the user name is kept, the password not)."""
    if "://" not in url:
        return url  # a path, or scp-like git@host:repo, which cannot carry a password
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at:
        return url
    user = userinfo.partition(":")[0]
    keep = f"{user}@" if parts.scheme in _SSH_SCHEMES and user else ""
    return urlunsplit(parts._replace(netloc=keep + hostport))


def inspect_checkout(directory: Path) -> CheckoutFacts:
    """Facts about the git checkout containing `directory` (see CheckoutFacts)."""
    directory = Path(directory).expanduser().absolute()
    if not directory.is_dir():
        raise SourceError(f"{directory}: no such directory")
    what = f"inspecting {directory}"
    top = run_git(["-C", str(directory), "rev-parse", "--show-toplevel"], what=what, check=False)
    if top.returncode != 0:
        raise SourceError(f"{directory} is not a git checkout: {_detail(top)}")
    root = Path(_out(top))
    git = ["-C", str(root)]
    head = run_git(
        [*git, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"], what=what, check=False
    )
    if head.returncode != 0:
        raise SourceError(f"{root}: the repository has no commits yet")
    commit = _out(head)
    symbolic = run_git([*git, "symbolic-ref", "--quiet", "HEAD"], what=what, check=False)
    full_ref = _out(symbolic) if symbolic.returncode == 0 else None
    branch = full_ref.removeprefix("refs/heads/") if full_ref else None
    if full_ref is None:
        tags = run_git(
            [*git, "for-each-ref", "--points-at", "HEAD", "--format=%(refname)", "refs/tags"],
            what=what,
        )
        # Several tags at HEAD: the first by name.
        full_ref = next(iter(_out(tags).splitlines()), "HEAD")
    origin = run_git([*git, "remote", "get-url", "origin"], what=what, check=False)
    status = run_git(
        [*git, "--no-optional-locks", "status", "--porcelain", "-z", "--untracked-files=normal"],
        what=what,
    )
    return CheckoutFacts(
        root=root,
        repository=strip_credentials(_out(origin)) if origin.returncode == 0 else root.as_uri(),
        commit=commit,
        ref=full_ref,
        branch=branch,
        commit_time=_committer_time(root, commit),
        dirty=bool(status.stdout),
    )


def _committer_time(root: Path, commit: str) -> datetime:
    """The committer time of `commit`, from its raw object (immune to log/format config)."""
    raw = run_git(["-C", str(root), "cat-file", "commit", commit], what=f"reading commit {commit}")
    for line in raw.stdout.split(b"\n"):
        if line.startswith(b"committer "):
            seconds = int(line.rsplit(b" ", 2)[1])
            return datetime.fromtimestamp(seconds, UTC)
        if not line:
            break  # end of the headers
    raise SourceError(f"{root}: commit {commit} has no committer line")


def prepare_workspace(
    checkout: CheckoutFacts | None,
    *,
    clone_from: str,
    commit: str,
    workspace: Path,
    dirty: bool,
    fetch_ref: str | None = None,
    auth_env: Mapping[str, str] | None = None,
) -> None:
    """Fill `workspace` (absent or empty) with the source a run's steps work on.

    Clean: a clone of `clone_from` with `commit` checked out (detached); a commit no
    branch or tag holds (a pull request's) is fetched from `fetch_ref`, and `auth_env`
    carries the clone credential (as git configuration in the environment). Dirty:
    a copy of the local checkout's working tree as it is (tracked files and
    untracked ones that are not ignored) plus its .git; without `checkout`, the
    checkout is inspected at `clone_from`, which must then be a local directory.
    Either way every file ends up readable and writable by all (a+rwX), so
    containers can use it whatever user they run as, even root remapped by a
    user namespace: keep the directory holding workspaces private (0700).
    """
    workspace = Path(workspace).absolute()
    if workspace.exists() and (not workspace.is_dir() or any(workspace.iterdir())):
        raise SourceError(f"workspace {workspace} is not an empty directory")
    if dirty:
        _copy_working_tree(checkout, clone_from, commit, workspace)
    else:
        _clone(clone_from, commit, workspace, fetch_ref, auth_env or {})
    _open_up(workspace)


def _clone(
    clone_from: str, commit: str, workspace: Path, fetch_ref: str | None, auth: Mapping[str, str]
) -> None:
    shown = strip_credentials(clone_from)
    try:
        run_git(
            ["clone", "--no-checkout", "--quiet", clone_from, str(workspace)],
            what=f"cloning {shown}",
            extra_env=auth,
        )
    except SourceError as exc:
        raise SourceError(str(exc).replace(clone_from, shown)) from None
    git = ["-C", str(workspace)]
    what = f"checking out {commit} from {shown}"

    def missing() -> bool:
        found = run_git([*git, "cat-file", "-e", f"{commit}^{{commit}}"], what=what, check=False)
        return found.returncode != 0

    if missing() and fetch_ref:
        run_git([*git, "fetch", "--quiet", "origin", fetch_ref], what=what, extra_env=auth)
    if missing():
        raise SourceError(
            f"commit {commit} is not in {shown}: was it never pushed, or force-pushed away?"
        )
    run_git(
        [*git, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit],
        what=what,
    )


def _copy_working_tree(
    checkout: CheckoutFacts | None, clone_from: str, commit: str, workspace: Path
) -> None:
    if checkout is None and Path(clone_from).is_dir():
        checkout = inspect_checkout(Path(clone_from))
    if checkout is None or not checkout.root.is_dir():
        where = clone_from if checkout is None else checkout.root
        raise SourceError(f"a dirty run copies a local checkout, but {where} is not here")
    root = checkout.root
    if commit != checkout.commit:
        raise SourceError(
            f"a dirty run of {root} runs its working tree, which is based on "
            f"{checkout.commit}, not on {commit}"
        )
    what = f"copying the working tree of {root}"
    head = _out(run_git(["-C", str(root), "rev-parse", "HEAD"], what=what))
    if head != checkout.commit:
        raise SourceError(f"{root}: HEAD moved from {checkout.commit} to {head} since inspection")
    listing = run_git(
        ["-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        what=what,
    ).stdout
    workspace.mkdir(parents=True, exist_ok=True)
    for raw in dict.fromkeys(listing.split(b"\0")):  # unmerged paths are listed once per stage
        relative = os.fsdecode(raw)
        source = root / relative
        if not raw or not os.path.lexists(source) or _through_symlink(root, relative):
            continue  # deleted in the working tree, or no longer a real file of it
        target = workspace / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        elif source.is_dir():
            shutil.copytree(source, target, symlinks=True)  # a submodule's checkout
        else:
            shutil.copy2(source, target)
    _copy_git_dir(checkout, workspace)


def _through_symlink(root: Path, relative: str) -> bool:
    """Whether a parent directory of `relative` inside `root` is a symbolic link."""
    parents = Path(relative).parents
    return any((root / parent).is_symlink() for parent in parents if parent != Path("."))


def _copy_git_dir(checkout: CheckoutFacts, workspace: Path) -> None:
    """Give the workspace a .git of its own, at the checkout's commit and branch."""
    git_dir = checkout.root / ".git"
    if git_dir.is_dir() and not git_dir.is_symlink():
        # Lock files belong to git processes running on the checkout right now.
        ignore = shutil.ignore_patterns("*.lock")
        shutil.copytree(git_dir, workspace / ".git", symlinks=True, ignore=ignore)
        return
    # A linked worktree or a submodule: .git is a file naming a directory elsewhere on
    # this host. Clone the repository instead and point HEAD and the index at the commit.
    what = f"copying the repository of {checkout.root}"
    target = workspace / ".git"
    run_git(["clone", "--bare", "--quiet", str(checkout.root), str(target)], what=what)
    git = ["-C", str(workspace)]
    run_git([*git, "config", "core.bare", "false"], what=what)
    if checkout.branch is not None:
        branch = f"refs/heads/{checkout.branch}"
        run_git([*git, "update-ref", branch, checkout.commit], what=what)
        run_git([*git, "symbolic-ref", "HEAD", branch], what=what)
    else:
        run_git([*git, "update-ref", "--no-deref", "HEAD", checkout.commit], what=what)
    run_git([*git, "reset", "--quiet"], what=what)


def _open_up(workspace: Path) -> None:
    """Make every directory and file under `workspace` readable and writable by all.

    Files with other hard links are left alone: a local clone hard-links the
    source repository's objects, whose modes are the source's to keep (git
    makes them read-only for everyone, which is enough: they never change).
    """
    for directory, _dirs, files in os.walk(workspace):
        os.chmod(directory, os.stat(directory).st_mode | 0o777)
        for name in files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            if not stat.S_ISLNK(info.st_mode) and info.st_nlink == 1:
                os.chmod(path, info.st_mode | 0o666)


def read_file_at(workspace: Path, relative: str) -> bytes:
    """The bytes of the file at `relative` in `workspace`; refuses paths that lead outside.

    Symbolic links are followed only while they stay inside the workspace. A
    missing file raises SourceFileMissing (a SourceError and a FileNotFoundError).
    """
    base = Path(workspace).resolve()
    if not relative or Path(relative).is_absolute():
        raise SourceError(f"{relative!r} is not a path relative to the workspace")
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise SourceError(f"{relative!r} leads outside the workspace {base}")
    if not target.is_file():
        raise SourceFileMissing(f"no file {relative} in the workspace {base}")
    return target.read_bytes()
