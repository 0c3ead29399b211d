"""Encryption of stored provider keys: configured, generated (development) and refused (production)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from backend.auth.crypto import KEY_FILE_NAME, EncryptionKeyError, UndecryptableSecret, secret_box
from backend.providers.credentials import mask
from backend.runtime import Runtime
from backend.settings import Settings

SECRET = "sk-test-0123456789abcdef"


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **values)


def test_a_configured_key_encrypts_and_decrypts_and_hides_the_plaintext(tmp_path: Path) -> None:
    box = secret_box(settings(tmp_path, encryption_key=Fernet.generate_key().decode()))
    token = box.encrypt(SECRET)
    assert SECRET not in token and "0123456789" not in token
    assert box.decrypt(token) == SECRET
    assert box.encrypt(SECRET) != token  # a fresh IV each time
    assert not (tmp_path / "data" / KEY_FILE_NAME).exists()  # nothing generated when a key is set


def test_development_generates_one_private_key_file_and_reuses_it(tmp_path: Path) -> None:
    first = secret_box(settings(tmp_path))
    path = tmp_path / "data" / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = first.encrypt(SECRET)
    again = secret_box(settings(tmp_path))  # a restart, or a worker process sharing DATA_DIR
    assert again.decrypt(token) == SECRET


def test_production_without_a_key_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(EncryptionKeyError, match="ENCRYPTION_KEY is not set"):
        secret_box(settings(tmp_path, environment="production"))
    assert not (tmp_path / "data" / KEY_FILE_NAME).exists()


def test_production_without_a_key_stops_the_runtime_at_start(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(EncryptionKeyError, match="ENCRYPTION_KEY"):
        Runtime.build(settings(tmp_path, environment="production", database_url=db))


def test_an_invalid_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(EncryptionKeyError) as caught:
        secret_box(settings(tmp_path, encryption_key="not-a-fernet-key-but-secret"))
    assert "not-a-fernet-key-but-secret" not in str(caught.value)


def test_keys_rotate_the_first_encrypts_and_every_one_decrypts(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = secret_box(settings(tmp_path, encryption_key=old)).encrypt(SECRET)
    rotated = secret_box(settings(tmp_path, encryption_key=f"{new},{old}"))
    assert rotated.decrypt(token) == SECRET
    assert secret_box(settings(tmp_path, encryption_key=new)).decrypt(rotated.encrypt(SECRET)) == SECRET


def test_a_value_from_another_key_fails_with_a_message_that_says_what_to_do(tmp_path: Path) -> None:
    token = secret_box(settings(tmp_path, encryption_key=Fernet.generate_key().decode())).encrypt(SECRET)
    other = secret_box(settings(tmp_path, encryption_key=Fernet.generate_key().decode()))
    with pytest.raises(UndecryptableSecret, match="ENCRYPTION_KEY") as caught:
        other.decrypt(token)
    assert SECRET not in str(caught.value)


def test_mask_shows_only_the_last_four_characters() -> None:
    assert mask(SECRET) == "…cdef"
    assert mask("short") == "…"  # too short to show any of it safely
    assert repr(secret_box(Settings(_env_file=None, encryption_key=Fernet.generate_key().decode()))) == (
        "SecretBox(<keys hidden>)"
    )
