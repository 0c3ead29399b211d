"""Worker processes (`python -m workers`) for tests and bench/, pointed at a test broker and database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# How long a silent worker keeps its partitions in the tests: the shortest Apache Kafka accepts
# (group.min.session.timeout.ms, 6 s by default; a shorter one fails the join).
SESSION_TIMEOUT_MS = 6000


def worker_env(
    bootstrap: str, database_url: str, topic_prefix: str, group: str, **extra: str
) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "WORKER_", "DATABASE_", "REDIS_"))
    }
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_TOPIC_PREFIX": topic_prefix,
            "KAFKA_WORKER_GROUP": group,
            "KAFKA_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
            "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            "WORKER_HEARTBEAT_SECONDS": "1",
            "DATABASE_URL": database_url,
            "OPENAI_API_KEY": "",
            "ANTHROPIC_API_KEY": "",
            "GOOGLE_CLOUD_PROJECT": "",
            "SIMULATED_ENABLED": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


class WorkerProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in wait()/kill()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "workers"], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def kill(self) -> None:
        """kill -9: no goodbye to the group, no final events."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.wait(10)

    def terminate(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def worker_processes(env: dict[str, str], n: int, log_dir: Path) -> Iterator[list[WorkerProcess]]:
    workers = [WorkerProcess(env, log_dir / f"worker-{i}.log") for i in range(n)]
    try:
        yield workers
    finally:
        for worker in workers:
            worker.kill()
