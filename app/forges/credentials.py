"""A registered repository's clone credential, handed to git as an HTTP header in its environment.

The credential is a secret named per repository (app/repo_identity.py's
`clone_secret_name`): `user:token`, or a bare token, which is sent with the user each
forge expects for tokens (`x-access-token` on GitHub, `oauth2` on GitLab; on Gitea
the token is the user name). git gets it as `http.extraHeader` through GIT_CONFIG_*
variables, so it is never on a command line (visible to every user in `ps`), never in
a URL that git could print, and only sent to that repository's server.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path

from app.executor.secrets import MissingSecrets, SecretStore
from app.forges.registry import RepositoryStore
from app.repo_identity import NotARepository, clone_secret_name, repository_id

_TOKEN_USER = {"github": "x-access-token", "gitlab": "oauth2"}


def basic_auth(credential: str, forge: str) -> tuple[str, str]:
    """The user and password a credential stands for on `forge`."""
    user, sep, password = credential.partition(":")
    if sep:
        return user, password
    if forge in _TOKEN_USER:
        return _TOKEN_USER[forge], credential
    return credential, "x-oauth-basic"  # Gitea takes a token as the user name


def auth_env(credential: str, forge: str) -> dict[str, str]:
    """Environment variables that make git send the credential as HTTP basic auth."""
    user, password = basic_auth(credential, forge)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {token}",
    }


def clone_auth(conninfo: str, repository_url: str, keyring: Path | None) -> Mapping[str, str]:
    """The git environment for cloning `repository_url`: its registered credential, if any.

    Only a repository registered under the URL's identity gets one, and only when its
    clone URL is that very URL: a run queued with another URL of the same name (a
    look-alike host, another port) is never handed the credential. The credential is
    sealed in the repository's own scope; `keyring` opens it (app/executor/secret_keys.py).
    """
    try:
        identity = repository_id(repository_url)
    except NotARepository:
        return {}
    repo = RepositoryStore(conninfo).get(str(identity))
    if repo is None or repo.clone_url != repository_url:
        return {}
    try:
        values = SecretStore(conninfo, keyring).values(
            [clone_secret_name(identity)], str(identity), None
        )
    except MissingSecrets:
        return {}
    return auth_env(values[clone_secret_name(identity)], repo.forge)
