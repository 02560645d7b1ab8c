"""Secrets in a backup: held only sealed, and opened after a restore only with their keyring.

The backup is `shiplog backup` (pg_dump's custom format, compressed), so it is read
back as SQL text with pg_restore before it is searched for the value in every form
masking knows. The restore goes into a fresh cluster like the suite's.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.backup import postgres_tool, server_major
from app.cli import app
from app.config import Settings, get_settings
from app.database import Database
from app.executor.secrets import SecretError, SecretStore
from tests.support.leaks import leaks
from tests.support.private_postgres import fresh_cluster_like, restored_app_url

REPO = "https://github.com/acme/backed-up.git"


def test_a_backup_holds_secrets_only_sealed_and_a_restore_opens_them_only_with_the_keyring(
    database: Database,
    settings: Settings,
    cli: CliRunner,
    admin_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    value = f"backed-up-{uuid.uuid4().hex}"
    stored = cli.invoke(app, ["secret", "set", "DEPLOY_TOKEN", "--repo", REPO], input=value)
    assert stored.exit_code == 0, stored.output
    backup = tmp_path / "shiplog.backup"
    made = cli.invoke(app, ["backup", str(backup)])
    assert made.exit_code == 0, made.output

    pg_restore = postgres_tool("pg_restore", server_major(database.owner_url))
    as_sql = subprocess.run(
        [str(pg_restore), "--file=-", str(backup)], capture_output=True, text=True, check=True
    ).stdout
    assert "DEPLOY_TOKEN" in as_sql  # the secret's row is in the backup...
    assert leaks(as_sql, value) == []  # ...sealed: no form of its value is

    with fresh_cluster_like(admin_url) as (environment, home):
        monkeypatch.delenv("SHIPLOG_DATABASE_URL", raising=False)
        monkeypatch.delenv("SHIPLOG_OWNER_DATABASE_URL", raising=False)
        for key, setting in environment.items():
            monkeypatch.setenv(key, setting)
        monkeypatch.setenv("SHIPLOG_HOME", str(home))
        get_settings.cache_clear()
        restored = cli.invoke(app, ["restore", str(backup)])
        assert restored.exit_code == 0, f"{restored.output}\n{restored.exception!r}"
        keyring = home / "keys" / "secrets.keyring"
        app_url = restored_app_url(environment, home)
        secrets = SecretStore(app_url, keyring)
        with pytest.raises(SecretError) as without:
            secrets.values(["DEPLOY_TOKEN"], REPO, "main")
        assert str(keyring) in str(without.value) and value not in str(without.value)
        keyring.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(settings.keyring_path, keyring)  # the keyring, kept apart, brought back
        assert dict(secrets.values(["DEPLOY_TOKEN"], REPO, "main")) == {"DEPLOY_TOKEN": value}
    get_settings.cache_clear()
