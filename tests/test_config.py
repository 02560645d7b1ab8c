"""Settings come from the environment, and from a file only when SHIPLOG_ENV_FILE names it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from app.config import ConfigError, get_settings


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A working directory of its own, no SHIPLOG_* variables, the settings cache cleared."""
    for name in ("SHIPLOG_ENV_FILE", "SHIPLOG_LEDGER_ORIGIN", "SHIPLOG_ACTOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_a_dotenv_file_in_the_current_directory_is_ignored(fresh: Path) -> None:
    (fresh / ".env").write_text("SHIPLOG_LEDGER_ORIGIN=planted\n")
    assert get_settings().ledger_origin == "shiplog"


def test_the_file_shiplog_env_file_names_is_read_and_the_environment_wins(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_file = fresh / "shiplog.env"
    settings_file.write_text("SHIPLOG_LEDGER_ORIGIN=from-file\nSHIPLOG_ACTOR=file-actor\n")
    monkeypatch.setenv("SHIPLOG_ENV_FILE", str(settings_file))
    monkeypatch.setenv("SHIPLOG_ACTOR", "env-actor")
    settings = get_settings()
    assert settings.ledger_origin == "from-file"
    assert settings.actor == "env-actor"


def test_a_missing_settings_file_is_an_error_naming_the_variable(
    fresh: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIPLOG_ENV_FILE", str(fresh / "missing.env"))
    with pytest.raises(ConfigError, match="SHIPLOG_ENV_FILE names"):
        get_settings()
    monkeypatch.setattr("sys.argv", ["shiplog", "ledger", "pubkey"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert "SHIPLOG_ENV_FILE names" in capsys.readouterr().err
