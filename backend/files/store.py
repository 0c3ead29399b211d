"""The file store: bytes under a key, in a local folder (default) or a Cloud Storage bucket.

Keys are relative paths made by the app ("<user id>/<sha256>.<ext>"), never typed by a person;
the local store still refuses any key that would leave its folder. Both stores do their
blocking I/O in a worker thread, so the event loop never waits on a disk or on Google.
"""

from __future__ import annotations

import asyncio
import importlib
import re
from pathlib import Path
from typing import Any, Protocol

from backend.settings import Settings

_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}/[a-f0-9]{64}\.[a-z0-9]{2,5}$")


class FileNotStored(LookupError):
    """No file under that key."""


class FileStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def exists(self, key: str) -> bool: ...


def check_key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"not a file-store key: {key!r}")
    return key


class LocalFileStore:
    """Files under one folder (DATA_DIR/files): for development and single-machine installs."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(path)  # readers never see half a file

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise FileNotStored(key) from exc

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)


class GCSFileStore:
    """Objects in a Cloud Storage bucket (production: every replica and worker sees the same files).

    google-cloud-storage's client is synchronous: each call runs in a worker thread. The client
    (and Application Default Credentials) is made on first use, never at start-up."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        if not bucket:
            raise ValueError("FILE_STORE=gcs needs FILE_STORE_BUCKET")
        self.bucket_name = bucket
        self._client = client

    def _bucket(self) -> Any:
        if self._client is None:
            storage = importlib.import_module("google.cloud.storage")
            self._client = storage.Client()
        return self._client.bucket(self.bucket_name)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        blob = self._bucket().blob(check_key(key))
        await asyncio.to_thread(blob.upload_from_string, data, content_type=content_type)

    async def get(self, key: str) -> bytes:
        blob = self._bucket().blob(check_key(key))
        not_found = importlib.import_module("google.api_core.exceptions").NotFound
        try:
            return bytes(await asyncio.to_thread(blob.download_as_bytes))
        except not_found as exc:
            raise FileNotStored(key) from exc

    async def exists(self, key: str) -> bool:
        blob = self._bucket().blob(check_key(key))
        return bool(await asyncio.to_thread(blob.exists))


def file_store(settings: Settings) -> FileStore:
    if settings.file_store == "gcs":
        return GCSFileStore(settings.file_store_bucket)
    return LocalFileStore(settings.data_dir / "files")
