"""A run's checkout: the queued commit cloned into a fresh workspace, its pipeline read and checked.

A registered repository is cloned with its clone credential (app/forges/credentials.py),
and a commit on no branch (a pull request's) is fetched from its ref. The pipeline file
is read from the commit, not from the queuer's tree, and must be
the very file that was queued (its digest is in RunQueued): a file changed since
fails the run. The secrets the pipeline names are read once, here, from those of
the run's repository and branch, and so are the privileges the repository was
granted; an untrusted run gets neither.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from app.executor.grants import SandboxGrants
from app.executor.repositories import branch_of, repository_key
from app.executor.secrets import SecretStore, SecretValues
from app.executor.source import SourceError, prepare_workspace, read_file_at
from app.forges.credentials import clone_auth
from app.pipeline import Pipeline, parse_pipeline, pipeline_digest
from events.vocabulary import RunQueued


@dataclass(frozen=True)
class CheckedOut:
    """A run's pipeline, with the secrets and privileges its repository gives it."""

    pipeline: Pipeline
    secrets: SecretValues
    privileges: frozenset[str]
    repository: str
    """The repository's canonical name, which secrets and grants are scoped by."""


def check_out_run(
    queued: RunQueued, workspace: Path, app_url: str, keyring: Path | None
) -> CheckedOut:
    """Clone the queued commit into `workspace`; its pipeline, secrets and granted privileges."""
    # Workspaces are writable by the containers' users, so their parent is private.
    workspace.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    workspace.parent.chmod(0o700)
    shutil.rmtree(workspace, ignore_errors=True)
    on_branch = queued.ref.startswith(("refs/heads/", "refs/tags/")) or queued.ref == "HEAD"
    prepare_workspace(
        None,
        clone_from=queued.checkout or queued.repository,
        commit=queued.commit,
        workspace=workspace,
        dirty=queued.dirty,
        fetch_ref=None if on_branch else queued.ref,
        auth_env=None if queued.checkout else clone_auth(app_url, queued.repository, keyring),
    )
    text = read_file_at(workspace, queued.pipeline_path)
    if pipeline_digest(text) != queued.pipeline_digest:
        raise SourceError(
            f"{queued.pipeline_path} at {queued.commit[:12]} is not the file that was queued "
            f"(digest {pipeline_digest(text)}, queued {queued.pipeline_digest})"
        )
    repository = repository_key(queued.repository)
    if queued.untrusted:
        # Checked as far as the file goes; the steps that need secrets or privileges fail
        # when they start, saying why, and the others run.
        pipeline = parse_pipeline(text.decode("utf-8"), queued.pipeline_path)
        return CheckedOut(pipeline, SecretValues(), frozenset(), repository)
    branch = branch_of(queued.ref)  # a pull request's own ref names no branch: none of its
    store = SecretStore(app_url, keyring)  # target's branch-scoped secrets
    privileges = SandboxGrants(app_url).granted(repository)
    pipeline = parse_pipeline(
        text.decode("utf-8"),
        queued.pipeline_path,
        known_secrets=store.names_for(repository, branch),
        allowed_privileges=privileges,
    )
    secrets = store.values(pipeline.secret_names(), repository, branch)
    return CheckedOut(pipeline, secrets, privileges, repository)
