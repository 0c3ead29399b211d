"""`python -m workers`: refuses to start without Kafka (the embedded mode runs its worker in-process)."""

from __future__ import annotations

import subprocess
import sys

from devstack.kafka_workers import ROOT, worker_env


def test_worker_process_refuses_to_start_without_kafka() -> None:
    env = worker_env("", "sqlite:///unused.db", "x.", "g")
    result = subprocess.run(
        [sys.executable, "-m", "workers"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "KAFKA_BOOTSTRAP_SERVERS is not set" in result.stderr
