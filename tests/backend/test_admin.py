"""backend/admin.py's `migrate`: the schema upgrade a deployment runs before traffic moves, with
MIGRATE_ON_START=false on the app (create-admin is tested in tests/security/test_production_settings.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.runtime import running
from tests.backend.runtime_support import make_settings

REPO = Path(__file__).resolve().parents[2]


def admin(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend.admin", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_without_migrate_on_start_the_app_needs_the_migrate_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    settings = make_settings(url, tmp_path, migrate_on_start=False)
    with pytest.raises(Exception, match="no such table"):
        async with running(settings):
            pass  # the schema was not created: start-up did not migrate

    done = admin("migrate", env={"DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    assert "The database schema is up to date." in done.stdout

    async with running(settings) as rt:
        signed = await rt.accounts.sign_up("first@example.org", "correct horse battery")
        assert signed.principal.is_admin


def test_the_admin_password_can_come_from_a_mounted_secret(tmp_path: Path) -> None:
    secret = tmp_path / "admin-password"
    secret.write_text("correct horse battery\n", encoding="utf-8")
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "LLMDASH_ADMIN_PASSWORD": "",
        "LLMDASH_ADMIN_PASSWORD_FILE": str(secret),
    }
    done = admin("create-admin", "ops@example.org", env=env)
    assert done.returncode == 0, done.stderr
    assert "Created admin ops@example.org." in done.stdout
