"""The scale-out stack's back half, started one way for the tests and for bench/: a PostgreSQL
database of its own, a Redis database flushed at the end, worker processes on a given Apache
Kafka broker, and the environment an app process needs to join them.

Callers start the app processes themselves (bench/app_runs.py one app, the scale-out test two
replicas behind nginx): only what they share lives here.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from devstack.kafka_workers import SESSION_TIMEOUT_MS, WorkerProcess, worker_env
from devstack.postgres import postgres_database

# What an app process keeps of the workers' environment (the rest is the worker's own).
APP_ENV_PREFIXES = ("KAFKA_", "DATABASE_", "REDIS_")


@dataclass
class KafkaBackend:
    database_url: str
    worker_env: dict[str, str]
    app_env: dict[str, str]
    """KAFKA_*, DATABASE_* and REDIS_* of the workers plus the shared settings: merge the app's own."""
    workers: list[WorkerProcess] = field(default_factory=list)


@contextlib.contextmanager
def kafka_backend(
    bootstrap: str,
    log_dir: Path,
    *,
    workers: int,
    redis_url: str,
    name: str,
    settings: dict[str, str] | None = None,
    per_worker: Callable[[int], dict[str, str]] | None = None,
    session_timeout_ms: int = SESSION_TIMEOUT_MS,
) -> Iterator[KafkaBackend]:
    """Start `workers` worker processes on `bootstrap`; stop them, flush Redis and drop the
    database on exit. `settings` go to the workers and the app alike; `per_worker(i)` adds a
    worker's own (e.g. its token trace file). Topics and the group are named after `name` and a
    random tag, so runs sharing a broker never meet."""
    from cryptography.fernet import Fernet
    from redis import Redis

    tag = uuid.uuid4().hex[:8]
    redis = Redis.from_url(redis_url)
    with postgres_database() as database_url, contextlib.ExitStack() as stack:  # database dropped last
        stack.callback(redis.close)
        stack.callback(redis.flushdb)  # Reflex keeps its session keys unprefixed
        shared = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": f"llmdash-{name}:{tag}:",
            "ENCRYPTION_KEY": Fernet.generate_key().decode(),  # web and workers read each other's keys
            "KAFKA_SESSION_TIMEOUT_MS": str(session_timeout_ms),
            "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            **(settings or {}),
        }
        env = worker_env(bootstrap, database_url, f"{name[:1]}{tag}.", f"{name}-{tag}", **shared)
        backend = KafkaBackend(
            database_url=database_url,
            worker_env=env,
            app_env={**{k: v for k, v in env.items() if k.startswith(APP_ENV_PREFIXES)}, **shared},
        )
        for i in range(workers):
            own = {**env, **(per_worker(i) if per_worker else {})}
            backend.workers.append(WorkerProcess(own, log_dir / f"worker-{i}.log"))
            stack.callback(backend.workers[-1].kill)
        yield backend
