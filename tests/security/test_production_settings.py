"""Production refuses to start with development conveniences left on (issue 5, item 9)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from backend.auth import AuthError
from backend.runtime import running
from backend.safety import UnsafeSettings
from tests.backend.runtime_support import make_settings

REPO = Path(__file__).resolve().parents[2]
GOOD_KEY = Fernet.generate_key().decode()


def _prod(url: str, tmp_path: Path, **overrides: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "environment": "production",
        "encryption_key": GOOD_KEY,
        "allow_sign_up": False,
    }
    values.update(overrides)
    return make_settings(url, tmp_path, **values)


async def test_a_safe_production_configuration_starts(runtime_database_url: str, tmp_path: Path) -> None:
    async with running(_prod(runtime_database_url, tmp_path)) as rt:
        assert rt.settings.environment == "production"


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"firebase_auth_emulator_host": "127.0.0.1:9099"}, "FIREBASE_AUTH_EMULATOR_HOST"),
        ({"encryption_key": ""}, "ENCRYPTION_KEY"),
        ({"encryption_key": "changeme"}, "ENCRYPTION_KEY"),
        ({"allow_sign_up": True}, "Sign-up is open and there is no admin"),
    ],
)
async def test_each_unsafe_setting_refuses_to_start(
    runtime_database_url: str, tmp_path: Path, overrides: dict[str, object], says: str
) -> None:
    with pytest.raises(Exception) as refused:  # UnsafeSettings, or the key check that runs first
        async with running(_prod(runtime_database_url, tmp_path, **overrides)):
            pass
    assert says in str(refused.value)


async def test_all_problems_are_listed_at_once(runtime_database_url: str, tmp_path: Path) -> None:
    settings = _prod(
        runtime_database_url,
        tmp_path,
        encryption_key="changeme",
        allow_sign_up=True,
        firebase_auth_emulator_host="127.0.0.1:9099",
    )
    from backend.db.engine import Database
    from backend.safety import check_production

    db = Database(settings.resolved_database_url)
    try:
        await db.upgrade()
        with pytest.raises(UnsafeSettings) as refused:
            await check_production(settings, db)
    finally:
        await db.dispose()
    assert len(refused.value.problems) == 3


async def test_the_emulator_variable_in_the_environment_is_refused_too(
    runtime_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")
    with pytest.raises(Exception, match="FIREBASE_AUTH_EMULATOR_HOST"):
        async with running(_prod(runtime_database_url, tmp_path)):
            pass


async def test_in_production_the_first_sign_up_is_not_an_admin_backdoor(
    runtime_database_url: str, tmp_path: Path
) -> None:
    async with running(_prod(runtime_database_url, tmp_path)) as rt:
        with pytest.raises(AuthError, match="Sign-up is closed"):
            await rt.accounts.sign_up("first@example.org", "correct horse battery")


def test_the_admin_command_creates_an_admin_that_unlocks_open_sign_up(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "LLMDASH_ADMIN_PASSWORD": "correct horse battery",
    }
    done = subprocess.run(
        [sys.executable, "-m", "backend.admin", "create-admin", "ops@example.org", "--name", "Ops"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Created admin ops@example.org." in done.stdout
    env["LLMDASH_ADMIN_PASSWORD"] = "short"
    refused = subprocess.run(
        [sys.executable, "-m", "backend.admin", "create-admin", "x@example.org"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and "at least 8 characters" in refused.stderr


async def test_with_an_admin_open_sign_up_is_allowed_in_production(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'prod.db'}"
    env = {**os.environ, "DATABASE_URL": url, "LLMDASH_ADMIN_PASSWORD": "correct horse battery"}
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "backend.admin", "create-admin", "ops@example.org"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    async with running(_prod(url, tmp_path, allow_sign_up=True)) as rt:
        signed = await rt.accounts.sign_in("ops@example.org", "correct horse battery")
        assert signed.principal.is_admin
        assert not (await rt.accounts.sign_up("bob@example.org", "correct horse battery")).principal.is_admin
