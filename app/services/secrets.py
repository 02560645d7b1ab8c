"""Secrets that pipeline steps ask for by name: set, delete, list (never show) their values.

The values live in the secrets table (migrations/0009_secrets.sql), kept by
app/executor/secrets.py, which also hands them to the steps that name them.
Errors are SecretError and never quote a value.
"""

from __future__ import annotations

from app.executor.secrets import SecretStore


def set_secret(conninfo: str, name: str, value: str) -> None:
    """Store `value` under `name`, replacing any earlier value."""
    SecretStore(conninfo).set(name, value)


def delete_secret(conninfo: str, name: str) -> bool:
    """Remove the secret `name`; False when there was none."""
    return SecretStore(conninfo).delete(name)


def secret_names(conninfo: str) -> list[str]:
    """The names of every stored secret, sorted."""
    return SecretStore(conninfo).names()
