"""Encryption at rest for stored provider keys (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from ENCRYPTION_KEY (in production, injected from Secret
Manager). Several comma-separated keys rotate: the first encrypts, all decrypt.
In development an empty ENCRYPTION_KEY means a key generated once into
DATA_DIR/secret.key (mode 0600) and reused by every process sharing DATA_DIR;
in production an empty key is refused at start, since a generated key would
be lost with the container and every stored key with it.

Nothing here logs or returns key material in a message.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from backend.settings import Settings

KEY_FILE_NAME = "secret.key"


class EncryptionKeyError(RuntimeError):
    """ENCRYPTION_KEY is missing (production) or is not a valid Fernet key."""


class UndecryptableSecret(ValueError):
    """A stored value was encrypted with a key this process does not have."""


class SecretBox:
    """Encrypts and decrypts short secrets (provider keys) to and from text tokens."""

    def __init__(self, fernet: MultiFernet) -> None:
        self._fernet = fernet

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise UndecryptableSecret(
                "A stored key could not be decrypted: was ENCRYPTION_KEY changed? Save the key again."
            ) from None

    def seal(self, plaintext: str) -> str:
        """A short-lived sealed value (encrypted and signed, with its time): `unseal` reads it."""
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def unseal(self, token: str, max_age_s: int) -> str | None:
        """What `seal` sealed, if it was sealed with one of these keys at most `max_age_s` ago."""
        try:
            return self._fernet.decrypt(token.encode("ascii"), ttl=max_age_s).decode()
        except (InvalidToken, UnicodeError, ValueError):
            return None

    def __repr__(self) -> str:
        return "SecretBox(<keys hidden>)"


def secret_box(settings: Settings) -> SecretBox:
    """The box for these settings; raises EncryptionKeyError with a message saying what to do."""
    configured = settings.encryption_key.get_secret_value().strip()
    if configured:
        keys = [k.strip() for k in configured.split(",") if k.strip()]
    elif settings.environment == "production":
        raise EncryptionKeyError(
            "ENCRYPTION_KEY is not set. In production it must come from your secret store "
            "(e.g. Secret Manager); create one with "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.'
        )
    else:
        keys = [_development_key(settings.data_dir)]
    try:
        return SecretBox(MultiFernet([Fernet(k) for k in keys]))
    except (ValueError, TypeError):
        # The message of the underlying error never includes the key, but say it plainly anyway.
        raise EncryptionKeyError(
            "ENCRYPTION_KEY is not a valid Fernet key (32 bytes, URL-safe base64; several keys are "
            "separated by commas)."
        ) from None


def _development_key(data_dir: Path) -> str:
    """Read DATA_DIR/secret.key, creating it (0600) on first use."""
    path = data_dir / KEY_FILE_NAME
    with contextlib.suppress(FileNotFoundError):
        return path.read_text(encoding="ascii").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        # O_EXCL: when the web process and a worker start together, one creates, the other reads.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _wait_for_key(path)
    with os.fdopen(fd, "wb") as file:
        file.write(key + b"\n")
    return key.decode("ascii")


def _wait_for_key(path: Path) -> str:
    """The key another process is writing (created, maybe not yet filled)."""
    for _ in range(50):
        text = path.read_text(encoding="ascii").strip()
        if text:
            return text
        time.sleep(0.02)
    raise EncryptionKeyError(f"{path} is empty; delete it to generate a new development key.")
