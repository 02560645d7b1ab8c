"""Registering the repositories whose forge webhooks may start runs: admin actions.

`register_repository` saves the repository under its canonical identity
(app/repo_identity.py), stores its clone credential as a secret named per repository,
in that repository's scope (app/services/secrets.py), makes a webhook secret when
there is none (or when asked to rotate it) and hands it back once, and records
RepositoryRegistered in `repo-<identity>` as the admin who asked.
`remove_repository` undoes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from app.executor.secrets import secret_scope
from app.executor.source import strip_credentials
from app.forges.registry import FORGES, Forge, Repository, RepositoryStore, new_webhook_secret
from app.repo_identity import NotARepository, clone_secret_name, repository_id
from app.services.errors import FieldProblem, NotRegistered
from app.services.secrets import delete_secret, list_secrets, set_secret
from events.catalogue import Metadata
from events.store import ANY, EventStore
from events.vocabulary import RepositoryRegistered, RepositoryRemoved


@dataclass(frozen=True)
class RepositoryRequest:
    """What an admin asks to register: the clone URL, the forge and the options."""

    url: str
    forge: str
    credential: str | None = None
    commit_status: bool = False
    api_url: str | None = None
    rotate_secret: bool = False


@dataclass(frozen=True)
class Registered:
    """A registered repository, and its webhook secret if it was made just now (shown once)."""

    repository: Repository
    webhook_secret: str | None
    credential: bool

    def __repr__(self) -> str:
        return f"<Registered {self.repository.identity}>"


def register_repository(
    store: EventStore,
    conninfo: str,
    request: RepositoryRequest,
    metadata: Metadata,
    keyring: Path,
) -> Registered:
    """Register (or update) a repository as `metadata.actor`; see the module docstring.

    `keyring` is the secrets keyring the clone credential is sealed with.
    """
    if request.forge not in FORGES:
        raise FieldProblem("forge", f"one of {', '.join(FORGES)}, not {request.forge!r}")
    forge: Forge = request.forge
    try:
        identity = repository_id(request.url)
    except NotARepository as error:
        raise FieldProblem("url", str(error)) from None
    clone_url = request.url.strip()
    if strip_credentials(clone_url) != clone_url:
        raise FieldProblem(
            "url", "the URL carries a credential: give it as the clone credential instead"
        )
    if request.api_url is not None:
        _check_api_url(request.api_url)
    if request.credential is not None and (
        not request.credential or "\n" in request.credential or "\x00" in request.credential
    ):
        raise FieldProblem("credential", "a clone credential is one line: `user:token` or a token")
    repositories = RepositoryStore(conninfo)
    existing = repositories.get(str(identity))
    secret = new_webhook_secret() if existing is None or request.rotate_secret else None
    name = clone_secret_name(identity)
    scope = secret_scope(str(identity))
    if request.credential is not None:
        set_secret(conninfo, keyring, scope, name, request.credential)
    saved = repositories.save(
        str(identity),
        forge=forge,
        clone_url=clone_url,
        api_url=request.api_url,
        commit_status=request.commit_status,
        actor=metadata.actor,
        webhook_secret=secret,
    )
    has_credential = request.credential is not None or any(
        secret.name == name and secret.scope == scope
        for secret in list_secrets(conninfo, str(identity))
    )
    store.append(
        identity.stream,
        [
            RepositoryRegistered(
                repository=str(identity),
                forge=forge,
                clone_url=clone_url,
                credential=has_credential,
                commit_status=request.commit_status,
                secret_rotated=secret is not None,
            )
        ],
        ANY,
        metadata,
    )
    return Registered(saved, secret, has_credential)


def remove_repository(store: EventStore, conninfo: str, name: str, metadata: Metadata) -> str:
    """Remove a registered repository and its clone credential; its identity is returned."""
    try:
        identity = repository_id(name)
    except NotARepository as error:
        raise FieldProblem("repository", str(error)) from None
    if not RepositoryStore(conninfo).delete(str(identity)):
        raise NotRegistered(f"no repository {identity} is registered")
    delete_secret(conninfo, secret_scope(str(identity)), clone_secret_name(identity))
    store.append(identity.stream, [RepositoryRemoved(repository=str(identity))], ANY, metadata)
    return str(identity)


def _check_api_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FieldProblem("api_url", f"an http(s) URL, e.g. https://api.github.com, not {url!r}")
    if strip_credentials(url) != url:
        raise FieldProblem("api_url", "the API URL must not carry a credential")
