"""What the health watch costs a process a minute, before and after the remote parts' change.

Before: every second the whole check, Redis on a client made for the check (a new connection,
PING, close). After: the local parts every second, Redis every HEALTH_REMOTE_CHECK_SECONDS (5)
on the process's client (a pooled connection). Each check is timed here in this process's CPU
time (all threads: the database read runs in one), the kinds alternating round by round so the
machine's load falls on both alike; the minute's cost is the checks a minute times their median.
Against the real Redis (LLMDASH_TEST_REDIS_URL, default database 9) and a SQLite file, as the
runtime checks them. The Kafka brokers' check (a metadata request to each) is not measured here.

    .venv/bin/python -m bench.health_checks [--rounds 10] [--checks 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import text

from backend.db.engine import Database
from backend.redis_client import redis_client
from backend.settings import Settings

REDIS_URL = os.environ.get("LLMDASH_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


async def _cpu_per_check(check: Callable[[], Awaitable[object]], checks: int) -> float:
    started = time.process_time()
    for _ in range(checks):
        await check()
    return (time.process_time() - started) / checks


async def main(rounds: int, checks: int) -> None:
    remote_every_s = Settings(_env_file=None).health_remote_check_seconds
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'health.db'}")
        shared: Redis = redis_client(REDIS_URL)

        async def local() -> object:
            return await db.read(lambda connection: connection.execute(text("SELECT 1")).scalar())

        async def redis_new_client() -> object:  # before: a client (a connection) per check
            client = redis_client(REDIS_URL)
            try:
                return await client.execute_command("PING")
            finally:
                await client.aclose()

        async def redis_shared() -> object:  # after: the process's client
            return await shared.execute_command("PING")

        kinds = {"local": local, "redis_new_client": redis_new_client, "redis_shared": redis_shared}
        cpu: dict[str, list[float]] = {name: [] for name in kinds}
        for check in kinds.values():  # warm up: imports, the pool's first connection
            await check()
        for round_ in range(rounds):
            order = list(kinds) if round_ % 2 == 0 else list(reversed(kinds))
            for name in order:
                cpu[name].append(await _cpu_per_check(kinds[name], checks))
        await shared.aclose()
        await db.dispose()
    median = {name: statistics.median(values) * 1000 for name, values in cpu.items()}
    spread = {name: (min(values) * 1000, max(values) * 1000) for name, values in cpu.items()}
    print(f"load average {os.getloadavg()[0]:.1f}; {rounds} rounds x {checks} checks of each, alternating")
    print("| check | CPU ms per check, median (min-max of the rounds) |")
    print("| --- | --- |")
    for name in kinds:
        low, high = spread[name]
        print(f"| {name} | {median[name]:.3f} ({low:.3f}-{high:.3f}) |")
    before = 60 * (median["local"] + median["redis_new_client"])
    after = 60 * median["local"] + 60 / remote_every_s * median["redis_shared"]
    print(
        f"| a minute, before (60 full checks, 60 Redis connections) | {before:.1f} ms |\n"
        f"| a minute, after (60 local, {60 / remote_every_s:.0f} Redis on the shared client, 0 connections) "
        f"| {after:.1f} ms ({after / before:.2f}x) |"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--checks", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.checks))
