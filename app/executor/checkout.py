"""A run's checkout: the queued commit cloned into a fresh workspace, its pipeline read and checked.

A registered repository is cloned with its clone credential (app/forges/credentials.py),
and a commit on no branch (a pull request's) is fetched from its ref. The pipeline file
is read from the commit, not from the queuer's tree, and must be
the very file that was queued (its digest is in RunQueued): a file changed since
fails the run. The secrets the pipeline names are read once, here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from app.executor.secrets import SecretStore
from app.executor.source import SourceError, prepare_workspace, read_file_at
from app.forges.credentials import clone_auth
from app.pipeline import Pipeline, parse_pipeline, pipeline_digest
from events.vocabulary import RunQueued


def check_out_run(
    queued: RunQueued, workspace: Path, app_url: str
) -> tuple[Pipeline, dict[str, str]]:
    """Clone the queued commit into `workspace`; the pipeline it holds and the secrets it names."""
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
        auth_env=None if queued.checkout else clone_auth(app_url, queued.repository),
    )
    text = read_file_at(workspace, queued.pipeline_path)
    if pipeline_digest(text) != queued.pipeline_digest:
        raise SourceError(
            f"{queued.pipeline_path} at {queued.commit[:12]} is not the file that was queued "
            f"(digest {pipeline_digest(text)}, queued {queued.pipeline_digest})"
        )
    store = SecretStore(app_url)
    pipeline = parse_pipeline(
        text.decode("utf-8"), queued.pipeline_path, known_secrets=store.names()
    )
    return pipeline, store.values(pipeline.secret_names())
