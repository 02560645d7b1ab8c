"""Secrets: scoped to a repository (and branch or environment), sealed at rest, never shown."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from app.cli import app
from app.database import Database
from app.executor.repositories import InvalidRepository, repository_key
from app.executor.secret_keys import read_keyring
from app.executor.secrets import MissingSecrets, SecretError, SecretStore, secret_scope

VALUE = "hunter2-very-secret"
REPO = "https://github.com/acme/web.git"
OTHER = "https://github.com/acme/other.git"


@pytest.fixture
def keyring(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "secrets.keyring"


@pytest.fixture
def secrets(database: Database, keyring: Path) -> SecretStore:
    return SecretStore(database.app_url, keyring)


def stored_rows(database: Database) -> list[tuple[str, str | None, str | None, str, bytes]]:
    with psycopg.connect(database.owner_url) as conn:
        rows = conn.execute(
            "SELECT repository, branch, environment, name, sealed FROM secrets ORDER BY name"
        ).fetchall()
    return [(r, b, e, n, bytes(s)) for r, b, e, n, s in rows]


# --- repository names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "https://github.com/acme/web",
        "https://ci:token@GitHub.com/acme/web.git",
        "https://github.com:443/acme/web/",
        "ssh://git@github.com:22/acme/web.git",
        "git@github.com:acme/web.git",
        "github.com/acme/web",
        "GITHUB.COM/acme/web.git",
    ],
)
def test_every_spelling_of_a_repository_has_one_key(name: str) -> None:
    assert repository_key(name) == "github.com/acme/web"


def test_a_checkout_without_a_forge_is_its_file_url() -> None:
    assert repository_key("file:///tmp/some%20repo/") == "file:///tmp/some%20repo"
    assert repository_key("/tmp/some repo") == "file:///tmp/some%20repo"


@pytest.mark.parametrize("name", ["acme/web", "", "github.com", "https://github.com/", "a\nb"])
def test_a_name_that_is_no_repository_is_refused_saying_why(name: str) -> None:
    with pytest.raises(InvalidRepository, match=r"repository|invalid"):
        repository_key(name)


# --- scopes ---------------------------------------------------------------------------------


def test_set_overwrite_delete_and_list_per_scope(secrets: SecretStore) -> None:
    repo, main = secret_scope(REPO), secret_scope(REPO, "main")
    secrets.set(repo, "REGISTRY_TOKEN", "first")
    secrets.set(main, "REGISTRY_TOKEN", "for-main")
    secrets.set(repo, "REGISTRY_TOKEN", "second")
    secrets.set(repo, "_deploy_key", "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n")
    listed = [(s.scope.repository, s.scope.branch, s.name) for s in secrets.listing()]
    assert listed == [
        ("github.com/acme/web", None, "REGISTRY_TOKEN"),
        ("github.com/acme/web", "main", "REGISTRY_TOKEN"),
        ("github.com/acme/web", None, "_deploy_key"),
    ]
    assert secrets.values(["REGISTRY_TOKEN"], REPO, "dev") == {"REGISTRY_TOKEN": "second"}
    assert secrets.values(["_deploy_key"], REPO, None)["_deploy_key"].splitlines()[1] == "AAAA"

    assert secrets.delete(repo, "REGISTRY_TOKEN") is True
    assert secrets.delete(repo, "REGISTRY_TOKEN") is False
    assert secrets.names_for(REPO, "main") == ["REGISTRY_TOKEN", "_deploy_key"]
    assert secrets.names_for(REPO, "dev") == ["_deploy_key"]


def test_the_most_specific_value_wins_environment_then_branch_then_repository(
    secrets: SecretStore,
) -> None:
    secrets.set(secret_scope(REPO), "TOKEN", "any-branch")
    secrets.set(secret_scope(REPO, "main"), "TOKEN", "main-only")
    secrets.set(secret_scope(REPO, None, "production"), "TOKEN", "production-only")
    secrets.set(secret_scope(REPO, "main", "production"), "TOKEN", "main-to-production")
    assert secrets.values(["TOKEN"], REPO, "dev") == {"TOKEN": "any-branch"}
    assert secrets.values(["TOKEN"], REPO, "main") == {"TOKEN": "main-only"}
    assert secrets.values(["TOKEN"], REPO, None) == {"TOKEN": "any-branch"}  # a tag's run
    assert secrets.values(["TOKEN"], REPO, "dev", "production") == {"TOKEN": "production-only"}
    assert secrets.values(["TOKEN"], REPO, "main", "production") == {"TOKEN": "main-to-production"}


def test_another_repositorys_secret_is_neither_listed_for_nor_given_to_a_run(
    secrets: SecretStore,
) -> None:
    secrets.set(secret_scope(OTHER), "DEPLOY_KEY", VALUE)
    assert secrets.names_for(REPO, "main") == []
    with pytest.raises(MissingSecrets) as caught:
        secrets.values(["DEPLOY_KEY"], REPO, "main")
    assert "github.com/acme/web" in str(caught.value) and VALUE not in str(caught.value)
    assert secrets.values(["DEPLOY_KEY"], "git@github.com:acme/other.git", None) == {
        "DEPLOY_KEY": VALUE
    }


def test_values_for_a_missing_name_raises_naming_it_and_no_value(secrets: SecretStore) -> None:
    secrets.set(secret_scope(REPO), "PRESENT", VALUE)
    with pytest.raises(MissingSecrets) as caught:
        secrets.values(["PRESENT", "ABSENT", "ALSO_ABSENT"], REPO, None)
    message = str(caught.value)
    assert "ABSENT" in message and "ALSO_ABSENT" in message
    assert VALUE not in message and VALUE not in repr(caught.value)
    assert caught.value.missing == ("ABSENT", "ALSO_ABSENT")
    assert isinstance(caught.value, LookupError)


@pytest.mark.parametrize("name", ["1ABC", "has-dash", "", "with space", "ÄPFEL", "a.b", "x\n"])
def test_invalid_names_are_refused_with_a_clear_message(secrets: SecretStore, name: str) -> None:
    with pytest.raises(SecretError, match=r"invalid secret name.*letters, digits and underscores"):
        secrets.set(secret_scope(REPO), name, VALUE)
    assert secrets.listing() == []


def test_the_table_refuses_invalid_names_even_without_the_store(database: Database) -> None:
    with (
        psycopg.connect(database.app_url) as conn,
        pytest.raises(psycopg.errors.CheckViolation),
    ):
        conn.execute(
            "INSERT INTO secrets (repository, name, key_id, sealed) "
            "VALUES ('github.com/a/b', 'no-dashes', 'k-0123456789abcdef', %s)",
            (bytes(40),),
        )


# --- encryption at rest ---------------------------------------------------------------------


def test_the_table_holds_only_sealed_values_and_the_key_lives_in_a_private_file(
    secrets: SecretStore, database: Database, keyring: Path
) -> None:
    secrets.set(secret_scope(REPO), "TOKEN", VALUE)
    ((repository, branch, environment, name, sealed),) = stored_rows(database)
    assert (repository, branch, environment, name) == ("github.com/acme/web", None, None, "TOKEN")
    assert VALUE.encode() not in sealed and len(sealed) == 12 + len(VALUE) + 16
    assert oct(keyring.stat().st_mode & 0o777) == "0o600"
    assert oct(keyring.parent.stat().st_mode & 0o777) == "0o700"
    ring = read_keyring(keyring)
    with psycopg.connect(database.owner_url) as conn:
        dumped = conn.execute("SELECT string_agg(t::text, ' ') FROM secrets t").fetchone()
    assert dumped is not None
    for key in ring.keys.values():
        assert key.hex() not in dumped[0]


def test_a_sealed_value_moved_to_another_scope_does_not_open(
    secrets: SecretStore, database: Database
) -> None:
    secrets.set(secret_scope(OTHER), "TOKEN", VALUE)
    with psycopg.connect(database.owner_url) as conn:
        conn.execute("UPDATE secrets SET repository = 'github.com/acme/web'")
    with pytest.raises(SecretError, match="altered or moved from another scope") as caught:
        secrets.values(["TOKEN"], REPO, None)
    assert VALUE not in str(caught.value)


def test_without_the_keyring_values_cannot_be_read_and_the_error_names_the_file(
    secrets: SecretStore, database: Database, keyring: Path, tmp_path: Path
) -> None:
    secrets.set(secret_scope(REPO), "TOKEN", VALUE)
    elsewhere = SecretStore(database.app_url, tmp_path / "other-host" / "secrets.keyring")
    with pytest.raises(SecretError, match=r"no secrets keyring at .*other-host"):
        elsewhere.values(["TOKEN"], REPO, None)
    keyring.chmod(0o644)
    with pytest.raises(SecretError, match="accessible by other users"):
        secrets.values(["TOKEN"], REPO, None)


def test_rotation_reseals_every_value_and_an_old_key_retires_only_when_unused(
    cli: CliRunner, database: Database, settings_keyring: Path
) -> None:
    for repo, value in ((REPO, "web-value"), (OTHER, "other-value")):
        done = cli.invoke(app, ["secret", "set", "TOKEN", "--repo", repo], input=value)
        assert done.exit_code == 0, done.output
    first = read_keyring(settings_keyring).primary
    assert cli.invoke(app, ["secret", "key", "retire", first]).exit_code != 0

    rotated = cli.invoke(app, ["secret", "key", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    ring = read_keyring(settings_keyring)
    assert ring.primary != first and set(ring.keys) == {first, ring.primary}
    assert "2 secret(s) re-encrypted" in rotated.output
    keys = cli.invoke(app, ["secret", "key", "ls"]).output.splitlines()
    assert keys == [f"{ring.primary}\tprimary\t2 secrets", f"{first}\told\t0 secrets"]

    refused = cli.invoke(app, ["secret", "key", "retire", ring.primary])
    assert refused.exit_code != 0 and "primary" in str(refused.exception)
    assert cli.invoke(app, ["secret", "key", "retire", first]).exit_code == 0
    assert set(read_keyring(settings_keyring).keys) == {ring.primary}
    store = SecretStore(database.app_url, settings_keyring)
    assert store.values(["TOKEN"], REPO, "main") == {"TOKEN": "web-value"}
    assert store.values(["TOKEN"], OTHER, "main") == {"TOKEN": "other-value"}


def test_a_keyring_that_lost_a_key_in_use_is_named_with_the_key(
    secrets: SecretStore, keyring: Path
) -> None:
    secrets.set(secret_scope(REPO), "TOKEN", VALUE)
    old = read_keyring(keyring).primary
    fresh = read_keyring(keyring).with_new_primary().without(old)
    keyring.write_bytes(fresh.to_json())
    with pytest.raises(SecretError, match=f"encrypted with key {old}, which is not in the keyring"):
        secrets.values(["TOKEN"], REPO, None)


def test_a_damaged_keyring_file_is_refused_naming_it(secrets: SecretStore, keyring: Path) -> None:
    keyring.parent.mkdir(mode=0o700)
    keyring.write_text(json.dumps({"primary": "k-x", "keys": {"k-x": "AAAA"}}))
    os.chmod(keyring, 0o600)
    with pytest.raises(SecretError, match="not a 32-byte key of that id"):
        secrets.set(secret_scope(REPO), "TOKEN", VALUE)


# --- never shown ----------------------------------------------------------------------------


def test_repr_and_str_of_the_store_values_and_errors_contain_no_value(
    secrets: SecretStore,
) -> None:
    secrets.set(secret_scope(REPO), "TOKEN", VALUE)
    values = secrets.values(["TOKEN"], REPO, None)
    assert values["TOKEN"] == VALUE
    for shown in (repr(secrets), str(secrets), repr(values), str(values), f"{values}"):
        assert VALUE not in shown
    assert "TOKEN" in repr(values)

    with pytest.raises(SecretError) as nul:
        secrets.set(secret_scope(REPO), "TOKEN", VALUE + "\x00")
    assert VALUE not in str(nul.value) and "TOKEN" in str(nul.value)


def test_database_errors_are_reported_without_the_value(
    database: Database, secrets: SecretStore
) -> None:
    with psycopg.connect(database.owner_url) as conn:
        conn.execute("ALTER TABLE secrets ADD CONSTRAINT short_values CHECK (length(sealed) < 5)")
    with pytest.raises(SecretError) as caught:
        secrets.set(secret_scope(REPO), "TOKEN", VALUE)
    assert "setting secret TOKEN failed" in str(caught.value)
    assert VALUE not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_an_unreachable_database_is_reported_without_the_connection_password() -> None:
    store = SecretStore("host=127.0.0.1 port=1 dbname=nowhere password=pg-password")
    assert "pg-password" not in repr(store)
    with pytest.raises(SecretError, match="listing secrets failed") as caught:
        store.listing()
    assert "pg-password" not in str(caught.value)


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def settings_keyring(cli: CliRunner) -> Path:
    """The keyring the `cli` fixture's shiplog uses."""
    return Path(os.environ["SHIPLOG_HOME"]) / "keys" / "secrets.keyring"


def test_secret_commands_scope_by_repository_and_never_print_a_value(
    cli: CliRunner, tmp_path: Path
) -> None:
    done = cli.invoke(
        app, ["secret", "set", "API_TOKEN", "--repo", REPO, "--branch", "main"], input=VALUE
    )
    assert done.exit_code == 0, done.output
    assert done.output == "secret API_TOKEN stored for github.com/acme/web (branch main)\n"
    listed = cli.invoke(app, ["secret", "ls"])
    (line,) = listed.output.splitlines()
    assert line.split("\t")[:4] == ["github.com/acme/web", "main", "*", "API_TOKEN"]
    assert VALUE not in listed.output
    assert cli.invoke(app, ["secret", "ls", "--repo", OTHER]).output == ""

    missing_repo = cli.invoke(app, ["secret", "set", "API_TOKEN"], input=VALUE)
    assert missing_repo.exit_code == 2 and "--repo" in missing_repo.output
    no_host = cli.invoke(app, ["secret", "set", "API_TOKEN", "--repo", "acme/web"], input=VALUE)
    assert "names no host" in str(no_host.exception)

    removed = cli.invoke(app, ["secret", "rm", "API_TOKEN", "--repo", REPO, "--branch", "main"])
    assert removed.output.endswith("deleted\n")


def test_unscoped_plain_text_secrets_of_an_older_shiplog_are_sealed_into_a_scope_on_import(
    cli: CliRunner, database: Database, settings_keyring: Path
) -> None:
    with psycopg.connect(database.owner_url) as conn:
        conn.execute(
            "INSERT INTO unscoped_plaintext_secrets (name, value) VALUES ('OLD', %s)", (VALUE,)
        )
    listed = cli.invoke(app, ["secret", "ls"])
    assert "1 unscoped plain-text secret(s)" in listed.stderr and "OLD" in listed.stderr
    done = cli.invoke(app, ["secret", "import-unscoped", "--repo", REPO])
    assert done.exit_code == 0 and done.output == "imported into github.com/acme/web: OLD\n"
    with psycopg.connect(database.owner_url) as conn:
        assert conn.execute("SELECT count(*) FROM unscoped_plaintext_secrets").fetchone() == (0,)
    store = SecretStore(database.app_url, settings_keyring)
    assert store.values(["OLD"], REPO, "main") == {"OLD": VALUE}
