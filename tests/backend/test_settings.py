"""backend/settings.py: every secret setting from its variable or from a `*_FILE` (a mounted secret)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from backend.settings import SECRET_SETTINGS, SecretFileError, Settings

# A value of the right shape for each secret setting, and how to read it back from Settings.
VALUES = {
    "database_url": "postgresql+psycopg://llmdash:s3cret@10.0.0.5/llmdash",
    "redis_url": "redis://:auth-string@10.0.0.6:6379/0",
    "encryption_key": "q0kWQ9Zb1TJ0Q2V7n8wq3s6Jm0k1yYl4B7iH3xN0cE4=",
    "openai_api_key": "sk-test-123",
    "anthropic_api_key": "sk-ant-test-456",
    "openai_compatible_endpoints": '{"local": {"base_url": "http://10.0.0.7:8000/v1", "api_key": "k"}}',
    "firebase_web_api_key": "AIza-test",
    "smtp_password": "smtp-app-password",
}


def read_back(settings: Settings, name: str) -> str:
    value = getattr(settings, name)
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRET_SETTINGS:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(f"{name.upper()}_FILE", raising=False)


def test_every_secret_setting_has_a_value_here() -> None:
    assert set(VALUES) == set(SECRET_SETTINGS)


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_a_secret_setting_is_read_from_its_variable(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name.upper(), VALUES[name])
    assert read_back(Settings(_env_file=None), name) == VALUES[name]


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_a_secret_setting_is_read_from_its_file(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / name
    secret.write_text(VALUES[name] + "\n", encoding="utf-8")  # `echo` and secret stores add one
    monkeypatch.setenv(f"{name.upper()}_FILE", str(secret))
    assert read_back(Settings(_env_file=None), name) == VALUES[name]


def test_the_file_is_read_when_settings_are_made_not_at_import(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "key"
    secret.write_text("first", encoding="utf-8")
    monkeypatch.setenv("OPENAI_API_KEY_FILE", str(secret))
    assert Settings(_env_file=None).openai_api_key.get_secret_value() == "first"
    secret.write_text("rotated", encoding="utf-8")
    assert Settings(_env_file=None).openai_api_key.get_secret_value() == "rotated"


def test_the_file_wins_over_a_stale_dotenv_value(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("ENCRYPTION_KEY=from-dotenv\n", encoding="utf-8")
    secret = tmp_path / "key"
    secret.write_text("from-the-secret-store", encoding="utf-8")
    monkeypatch.setenv("ENCRYPTION_KEY_FILE", str(secret))
    assert Settings(_env_file=dotenv).encryption_key.get_secret_value() == "from-the-secret-store"


def test_a_variable_and_its_file_together_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "url"
    secret.write_text(VALUES["database_url"], encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///other.db")
    monkeypatch.setenv("DATABASE_URL_FILE", str(secret))
    with pytest.raises(SecretFileError, match="set DATABASE_URL or DATABASE_URL_FILE, not both"):
        Settings(_env_file=None)


def test_a_missing_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "value"
    monkeypatch.setenv("ENCRYPTION_KEY_FILE", str(missing))
    with pytest.raises(SecretFileError, match=r"ENCRYPTION_KEY_FILE=.*nowhere/value: No such file"):
        Settings(_env_file=None)


def test_a_non_secret_setting_has_no_file_form(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "dir"
    secret.write_text("/elsewhere", encoding="utf-8")
    monkeypatch.setenv("DATA_DIR_FILE", str(secret))
    assert Settings(_env_file=None).data_dir == Path("data")


def test_migrations_at_start_are_on_by_default_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIGRATE_ON_START", raising=False)
    assert Settings(_env_file=None).migrate_on_start is True
    monkeypatch.setenv("MIGRATE_ON_START", "false")
    assert Settings(_env_file=None).migrate_on_start is False
