"""rxconfig.py: Reflex's state manager follows REDIS_URL (Redis when set, memory otherwise)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.redis_support import TEST_REDIS_URL

REPO_ROOT = Path(__file__).resolve().parents[1]
PROBE = (
    "from reflex.istate.manager import StateManager\n"
    "import rxconfig, dashboard.dashboard\n"
    "print(rxconfig.config.state_manager_mode.value, rxconfig.config.redis_url,"
    " type(StateManager.create()).__name__)\n"
)


@pytest.mark.parametrize(
    ("redis_url", "expected"),
    [
        ("", "memory None StateManagerMemory"),
        (TEST_REDIS_URL, f"redis {TEST_REDIS_URL} StateManagerRedis"),
    ],
)
def test_state_manager_follows_redis_url(redis_url: str, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFLEX_REDIS")}
    env.update(REDIS_URL=redis_url, REFLEX_TELEMETRY_ENABLED="false")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == expected


def test_the_redis_url_may_come_from_a_mounted_secret(tmp_path: Path) -> None:
    secret = tmp_path / "redis-url"
    secret.write_text(TEST_REDIS_URL + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFLEX_REDIS")}
    env.update(REDIS_URL="", REDIS_URL_FILE=str(secret), REFLEX_TELEMETRY_ENABLED="false")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == f"redis {TEST_REDIS_URL} StateManagerRedis"
