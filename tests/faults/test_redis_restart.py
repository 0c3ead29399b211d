"""Fault 14b: Redis dies under load and comes back empty.

A redis-server of this test's own (never the machine's shared one) on a free port, no
persistence; a runtime (embedded queue and worker) on a fresh PostgreSQL database with
REDIS_URL pointing at it, so the response cache, the rate limits and the sign-in
throttle live in that Redis.  Panes run at temperature 0, so every run looks the cache
up first and stores its answer.

1. Redis up: a wave of comparisons, then the same prompts again: the repeats are cache hits.
2. Load: a comparison every 100 ms (prompts seen before and new ones).  One second in,
   Redis is killed (-9); it stays down 3 s, during which the load goes on, sign-ins (right
   and wrong password) are tried, and /health is sampled; then it starts again, empty.
3. After: a new prompt twice: a miss that is stored, then a hit (the app reconnected).

Must end with: no comparison refused and no run failed during the outage (the cache
counts as a miss, the rate limits and the sign-in throttle count in the process while
Redis is unreachable); every run done with its deterministic output, saved once; /health
reporting Redis down during the outage and ok before and after.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from backend.auth.accounts import AuthError
from backend.db.records import ComparisonRecord
from backend.runtime import Runtime, running
from devstack.postgres import make_database_url
from tests.backend.runtime_support import make_settings
from tests.faults.support import install_final_audit, judge, record_result, redis_server, wait_all_final

pytestmark = pytest.mark.postgres

PANES = 2
MODELS = ["simulated:swift", "simulated:terse"]
PASSWORD = "correct horse battery staple"
DOWN_S = 3.0


def _payload(prompt: str) -> dict[str, Any]:
    return {"prompt": prompt, "panes": [{"model": m, "temperature": 0.0} for m in MODELS]}


async def _health(rt: Runtime, samples: list[tuple[float, str, bool]], stop: asyncio.Event) -> None:
    """(monotonic time, the report's "redis" entry, its "ok") every 0.2 s."""
    while not stop.is_set():
        report = await rt.health()
        samples.append((time.monotonic(), str(report.get("redis")), bool(report["ok"])))
        await asyncio.sleep(0.2)


async def test_redis_restart_under_load_degrades_and_recovers(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis.log") as redis, make_database_url("postgresql", tmp_path) as url:
        settings = make_settings(
            url,
            tmp_path,
            redis_url=redis.url,
            redis_key_prefix="faults:",
            rate_limit_requests_per_minute=100_000,  # on, so every Run goes through the limiter
            rate_limit_tokens_per_day=100_000_000,
        )
        async with running(settings) as rt:
            install_final_audit(url)
            signed = await rt.accounts.sign_up("redis-fault@example.org", PASSWORD, "Redis Fault")
            user = signed.principal
            done: list[tuple[ComparisonRecord, str]] = []
            refused: list[str] = []
            health: list[tuple[float, str, bool]] = []
            stop_health = asyncio.Event()
            sampler = asyncio.create_task(_health(rt, health, stop_health))

            async def submit(prompt: str) -> ComparisonRecord | None:
                try:
                    record = await rt.comparisons.create(user, _payload(prompt))
                except Exception as exc:  # what a user would see: the comparison refused
                    refused.append(f"{type(exc).__name__}: {exc}")
                    return None
                done.append((record, prompt))
                return record

            async def wave(prompts: list[str]) -> list[ComparisonRecord]:
                records = [r for r in [await submit(p) for p in prompts] if r is not None]
                return await wait_all_final(rt, [r.id for r in records], timeout=60)

            try:
                # 1. Redis up: misses are stored, repeats are hits.
                seen = [f"fault 14b, prompt {i} [[simulate:tokens=30]]" for i in range(4)]
                first = await wave(seen)
                repeat = await wave(seen)
                hits_before = sum(r.cache_hit for rec in repeat for r in rec.runs)
                misses_first = sum(not r.cache_hit for rec in first for r in rec.runs)

                # 2. Load, with Redis killed one second in and back three seconds later.
                sign_ins: list[str] = []

                async def load(seconds: float, tag: str) -> list[asyncio.Task[Any]]:
                    tasks, i, end = [], 0, time.monotonic() + seconds
                    while time.monotonic() < end:
                        prompt = (
                            seen[i % len(seen)] if i % 2 else f"fault 14b, {tag} {i} [[simulate:tokens=30]]"
                        )
                        tasks.append(asyncio.create_task(submit(prompt)))
                        i += 1
                        await asyncio.sleep(0.1)
                    return tasks

                tasks = await load(1.0, "before")
                redis.kill()
                killed_at = time.monotonic()
                outage_load = asyncio.create_task(load(DOWN_S, "during"))
                for password in (PASSWORD, "wrong password", PASSWORD):
                    try:
                        await rt.accounts.sign_in("redis-fault@example.org", password, "127.0.0.1")
                        sign_ins.append("signed in")
                    except AuthError:
                        sign_ins.append("refused")
                tasks += await outage_load
                redis.start()  # same port, empty
                restarted_at = time.monotonic()
                tasks += await load(1.0, "after")
                await asyncio.gather(*tasks)
                await wait_all_final(rt, [r.id for r, _ in done], timeout=60)

                # 3. After: the app talks to the new Redis by itself.
                fresh = ["fault 14b, after the restart [[simulate:tokens=30]]"]
                after_miss = await wave(fresh)
                after_hit = await wave(fresh)
                for _ in range(50):  # the sampler sees the new Redis within a sample or two
                    if health and health[-1][1] == "ok":
                        break
                    await asyncio.sleep(0.2)
                down_for = [t - killed_at for t, state, _ in health if state != "ok"]
                ok_again = next(
                    (t - restarted_at for t, state, _ in health if t > restarted_at and state == "ok"), None
                )
                await rt.pump.drain()
            finally:
                stop_health.set()
                await sampler

            records = [await rt.comparisons.get_unchecked(r.id) for r, _ in done]
        prompts = {r.id: p for r, p in done}
        outcome = judge(url, [(rec, prompts[rec.id]) for rec in records], PANES)

    figures = {
        **outcome.as_figures(),
        "comparisons_refused": len(refused),
        "redis_down_s": DOWN_S,
        "cache_hits_before": hits_before,
        "cache_hits_after_restart": sum(r.cache_hit for rec in after_hit for r in rec.runs),
        "sign_ins_during_outage": sign_ins,
        "health_samples_redis_down": len(down_for),
        "health_down_seen_from_to_s_after_kill": [round(down_for[0], 2), round(down_for[-1], 2)]
        if down_for
        else None,
        "health_ok_again_s_after_restart": None if ok_again is None else round(ok_again, 2),
    }
    record_result("redis_restart_under_load", figures)
    assert not refused, refused[:5]
    assert not outcome.lost and outcome.duplicates == 0, outcome.details[:10]
    assert misses_first == len(seen) * PANES and hits_before == len(seen) * PANES, "the cache worked before"
    assert sign_ins == ["signed in", "refused", "signed in"], "sign-in works (and still checks) without Redis"
    assert health[0][1] == "ok" and health[0][2], f"healthy before: {health[:3]}"
    assert down_for, f"/health reported Redis down during the outage: {health}"
    assert all(not ok for _, state, ok in health if state != "ok"), "and the app as not ok meanwhile"
    assert health[-1][1] == "ok" and health[-1][2], f"healthy again after: {health[-3:]}"
    assert not any(r.cache_hit for rec in after_miss for r in rec.runs), "the new Redis starts empty"
    assert all(r.cache_hit for rec in after_hit for r in rec.runs), "the cache works again after the restart"
