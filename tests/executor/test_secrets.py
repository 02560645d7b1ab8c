"""Secrets: set, overwrite, delete and fetch as the application role, never showing a value."""

from __future__ import annotations

import psycopg
import pytest

from app.database import Database
from app.executor.secrets import MissingSecrets, SecretError, SecretStore

VALUE = "hunter2-very-secret"


@pytest.fixture
def secrets(database: Database) -> SecretStore:
    return SecretStore(database.app_url)


def test_set_overwrite_delete_and_names(secrets: SecretStore, database: Database) -> None:
    assert secrets.names() == []
    secrets.set("REGISTRY_TOKEN", "first")
    secrets.set("_deploy_key", "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n")
    secrets.set("REGISTRY_TOKEN", "second")
    assert secrets.names() == ["REGISTRY_TOKEN", "_deploy_key"]
    assert secrets.values(["REGISTRY_TOKEN"]) == {"REGISTRY_TOKEN": "second"}
    assert secrets.values(["_deploy_key"])["_deploy_key"].splitlines()[1] == "AAAA"

    assert secrets.delete("REGISTRY_TOKEN") is True
    assert secrets.delete("REGISTRY_TOKEN") is False
    assert secrets.names() == ["_deploy_key"]
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute("SELECT count(*) FROM secrets").fetchone()
    assert row == (1,)


def test_values_returns_exactly_the_names_asked_for(secrets: SecretStore) -> None:
    secrets.set("A", "1")
    secrets.set("B", "2")
    secrets.set("C", "3")
    assert secrets.values(["C", "A", "C"]) == {"A": "1", "C": "3"}
    assert secrets.values([]) == {}


def test_values_for_a_missing_name_raises_naming_it_and_no_value(secrets: SecretStore) -> None:
    secrets.set("PRESENT", VALUE)
    with pytest.raises(MissingSecrets) as caught:
        secrets.values(["PRESENT", "ABSENT", "ALSO_ABSENT"])
    message = str(caught.value)
    assert "ABSENT" in message and "ALSO_ABSENT" in message
    assert VALUE not in message and VALUE not in repr(caught.value)
    assert caught.value.missing == ("ABSENT", "ALSO_ABSENT")
    assert isinstance(caught.value, LookupError)


@pytest.mark.parametrize("name", ["1ABC", "has-dash", "", "with space", "ÄPFEL", "a.b", "x\n"])
def test_invalid_names_are_refused_with_a_clear_message(secrets: SecretStore, name: str) -> None:
    with pytest.raises(SecretError, match=r"invalid secret name.*letters, digits and underscores"):
        secrets.set(name, VALUE)
    assert secrets.names() == []


def test_the_table_refuses_invalid_names_even_without_the_store(database: Database) -> None:
    with (
        psycopg.connect(database.app_url) as conn,
        pytest.raises(psycopg.errors.CheckViolation),
    ):
        conn.execute("INSERT INTO secrets (name, value) VALUES ('no-dashes', 'x')")


def test_repr_and_str_of_the_store_values_and_errors_contain_no_value(
    secrets: SecretStore,
) -> None:
    secrets.set("TOKEN", VALUE)
    values = secrets.values(["TOKEN"])
    assert values["TOKEN"] == VALUE
    for shown in (repr(secrets), str(secrets), repr(values), str(values), f"{values}"):
        assert VALUE not in shown
    assert "TOKEN" in repr(values)

    with pytest.raises(SecretError) as nul:
        secrets.set("TOKEN", VALUE + "\x00")
    assert VALUE not in str(nul.value) and "TOKEN" in str(nul.value)


def test_database_errors_are_reported_without_the_value(database: Database) -> None:
    with psycopg.connect(database.owner_url) as conn:
        conn.execute("ALTER TABLE secrets ADD CONSTRAINT short_values CHECK (length(value) < 5)")
    with pytest.raises(SecretError) as caught:
        SecretStore(database.app_url).set("TOKEN", VALUE)
    assert "setting secret TOKEN failed" in str(caught.value)
    assert VALUE not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_an_unreachable_database_is_reported_without_the_connection_password() -> None:
    store = SecretStore("host=127.0.0.1 port=1 dbname=nowhere password=pg-password")
    assert "pg-password" not in repr(store)
    with pytest.raises(SecretError, match="listing secrets failed") as caught:
        store.names()
    assert "pg-password" not in str(caught.value)
