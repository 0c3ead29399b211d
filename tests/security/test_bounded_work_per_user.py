"""One token cannot hold unlimited streams or running comparisons (issue 15, bounded work).

Past MAX_STREAMS_PER_USER open SSE streams a new one is 429 with Retry-After (and the
limit's name), while another account is unaffected and a closed stream gives its slot back;
past MAX_RUNNING_COMPARISONS_PER_USER comparisons still running a new comparison is 429 with
nothing saved and no rate limit used, and once they finish it goes through.

With Redis the stream limit holds across replicas: slots taken on two replicas (each its own
client) add up, one given back on one is free on the other, twelve racing for one free slot get
it once, a killed replica's slots expire within their ttl while a live one's renewals keep
them, and two whole app runtimes sharing Redis refuse a third stream on either.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from backend.limits import RateLimitExceeded
from backend.limits.streams import RedisStreamSlots
from backend.runtime import Runtime, running
from devstack.postgres import make_migrated_database_url
from tests.backend.runtime_support import api_client, make_settings, running_on, wait_until_final
from tests.redis_support import TEST_REDIS_URL, redis_prefix

PREFIX = "/api/v1"
SLOW = {"prompt": "[[simulate:stall@1:30]] slowly", "panes": [{"model": "simulated:swift"}]}
QUICK = {"prompt": "[[simulate:tokens=3]] hi", "panes": [{"model": "simulated:instant"}]}


@contextlib.asynccontextmanager
async def limited(database_url: str, tmp_path: Path, **limits: int) -> AsyncIterator[Runtime]:
    overrides: dict[str, Any] = dict(limits)
    async with running_on("memory", database_url, tmp_path, **overrides) as rt:
        yield rt


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_streams_past_the_limit_are_429_until_one_closes(
    runtime_database_url: str, tmp_path: Path
) -> None:
    """In-process (ASGI) clients read a stream's body to its end, so each open stream is a task."""
    async with (
        limited(runtime_database_url, tmp_path, max_streams_per_user=2) as rt,
        api_client(rt) as ada,
        api_client(rt, "bob@example.org") as bob,
    ):
        ada_id, bob_id = await _user_id(rt, "ada@example.org"), await _user_id(rt, "bob@example.org")
        made = await ada.post(f"{PREFIX}/comparisons", json=SLOW)
        assert made.status_code == 201, made.text
        events = f"{PREFIX}/comparisons/{made.json()['id']}/events"
        first = asyncio.create_task(ada.get(events))
        second = asyncio.create_task(ada.get(events))
        await _until(lambda: rt.stream_slots.open_for(ada_id) == 2)
        for _ in range(3):  # refused before a stream starts, however often it is asked
            third = await ada.get(events)
            assert third.status_code == 429, third.text
            assert int(third.headers["retry-after"]) >= 1
            assert third.json()["limit"] == "concurrent_streams"
        assert rt.stream_slots.open_for(ada_id) == 2

        # Bob's own stream of his own comparison is not Ada's problem.
        bob_made = await bob.post(f"{PREFIX}/comparisons", json=SLOW)
        bobs = asyncio.create_task(bob.get(f"{PREFIX}/comparisons/{bob_made.json()['id']}/events"))
        await _until(lambda: rt.stream_slots.open_for(bob_id) == 1)

        first.cancel()  # the client goes away: the slot comes back
        await _until(lambda: rt.stream_slots.open_for(ada_id) == 1)
        again = asyncio.create_task(ada.get(events))
        await _until(lambda: rt.stream_slots.open_for(ada_id) == 2)
        for task in (second, again, bobs):
            task.cancel()
        await _until(lambda: rt.stream_slots.open_for(ada_id) == 0 and rt.stream_slots.open_for(bob_id) == 0)
        await ada.post(f"{PREFIX}/comparisons/{made.json()['id']}/cancel")
        await bob.post(f"{PREFIX}/comparisons/{bob_made.json()['id']}/cancel")


async def test_a_stream_that_ends_gives_its_slot_back(runtime_database_url: str, tmp_path: Path) -> None:
    async with limited(runtime_database_url, tmp_path, max_streams_per_user=1) as rt, api_client(rt) as ada:
        made = await ada.post(f"{PREFIX}/comparisons", json=QUICK)
        comparison_id = made.json()["id"]
        for _ in range(3):  # each stream runs to its `done` event; the next one is allowed
            streamed = await ada.get(f"{PREFIX}/comparisons/{comparison_id}/events")
            assert streamed.status_code == 200 and "event: done" in streamed.text
        assert rt.stream_slots.open_for(await _user_id(rt, "ada@example.org")) == 0


async def _user_id(rt: Runtime, email: str) -> str:
    from tests.backend.runtime_support import owner

    return (await owner(rt, email)).user_id


async def test_running_comparisons_past_the_limit_are_429_with_nothing_saved(
    runtime_database_url: str, tmp_path: Path
) -> None:
    async with (
        limited(runtime_database_url, tmp_path, max_running_comparisons_per_user=2) as rt,
        api_client(rt) as ada,
        api_client(rt, "bob@example.org") as bob,
    ):
        ids = []
        for _ in range(2):
            made = await ada.post(f"{PREFIX}/comparisons", json=SLOW)
            assert made.status_code == 201, made.text
            ids.append(made.json()["id"])
        before = (await ada.get(f"{PREFIX}/comparisons")).json()["total"]
        refused = await ada.post(f"{PREFIX}/comparisons", json=QUICK)
        assert refused.status_code == 429, refused.text
        assert refused.json()["limit"] == "running_comparisons"
        assert int(refused.headers["retry-after"]) >= 1
        assert (await ada.get(f"{PREFIX}/comparisons")).json()["total"] == before
        assert (await bob.post(f"{PREFIX}/comparisons", json=QUICK)).status_code == 201

        for comparison_id in ids:  # cancelled runs are final: the slots come back
            await ada.post(f"{PREFIX}/comparisons/{comparison_id}/cancel")
            await wait_until_final(rt.comparisons, comparison_id)
        assert (await ada.post(f"{PREFIX}/comparisons", json=QUICK)).status_code == 201


@pytest.mark.parametrize("setting", ["max_streams_per_user", "max_running_comparisons_per_user"])
def test_the_limits_have_defaults_a_person_never_reaches(setting: str) -> None:
    from backend.settings import Settings

    value = getattr(Settings(_env_file=None), setting)
    assert 10 <= value <= 100


async def test_linked_comparisons_a_judge_makes_count_and_are_refused_too(
    runtime_database_url: str, tmp_path: Path
) -> None:
    """create_linked (an LLM judge's runs) is bounded by the same limit, all or nothing."""
    from backend.limits import RateLimitExceeded
    from tests.backend.runtime_support import owner

    async with limited(runtime_database_url, tmp_path, max_running_comparisons_per_user=1) as rt:
        ada = await owner(rt)
        first = await rt.comparisons.create(ada, SLOW)
        linked: list[str] = []

        async def link(records: list[Any]) -> None:
            linked.extend(r.id for r in records)

        with pytest.raises(RateLimitExceeded) as refused:
            await rt.comparisons.create_linked(ada, first.project_id, [QUICK, QUICK], link, "judge")
        assert refused.value.limit == "running_comparisons" and linked == []
        await rt.comparisons.cancel(ada, first.id)
        await wait_until_final(rt.comparisons, first.id)
        made = await rt.comparisons.create_linked(ada, first.project_id, [QUICK], link, "judge")
        assert [r.id for r in made] == linked


# --- across replicas (Redis) -----------------------------------------------------------------
HOLDER = """
import asyncio, sys
from redis.asyncio import Redis
from backend.limits.streams import RedisStreamSlots

async def main() -> None:
    slots = RedisStreamSlots(Redis.from_url(sys.argv[1]), 1, sys.argv[2], ttl_s=float(sys.argv[3]))
    slot = await slots.take("ada")
    print("taken", flush=True)
    await asyncio.sleep(600)  # holds (and renews) the slot until killed

asyncio.run(main())
"""


async def _refused(slots: RedisStreamSlots, user_id: str = "ada") -> bool:
    try:
        slot = await slots.take(user_id)
    except RateLimitExceeded as refused:
        assert refused.limit == "concurrent_streams"
        return True
    slot.release()
    return False


@pytest.mark.redis
async def test_the_stream_limit_holds_across_replicas(record_property: Any) -> None:
    """Two replicas' slot counters, each its own client of the one Redis, limit 3."""
    async with redis_prefix() as (client, prefix):
        other_client = Redis.from_url(TEST_REDIS_URL)
        one = RedisStreamSlots(client, 3, prefix, owns_client=False)
        other = RedisStreamSlots(other_client, 3, prefix, owns_client=False)
        try:
            held = [await one.take("ada"), await one.take("ada"), await other.take("ada")]
            assert await _refused(one) and await _refused(other)  # 2 here + 1 there = the limit
            assert (one.open_for("ada"), other.open_for("ada")) == (2, 1)
            assert await one.open_everywhere("ada") == 3
            bobs = await other.take("bob")  # another account is not Ada's problem
            held[0].release()  # a stream on one replica ends: the other may open one
            held[0].release()  # idempotent: gives back one slot, not two
            await _until_async(lambda: one.open_everywhere("ada"), 2)
            held.append(await other.take("ada"))
            assert await _refused(one)
            for slot in [*held, bobs]:
                slot.release()
            await _until_async(lambda: other.open_everywhere("ada"), 0)
        finally:
            await one.close()
            await other.close()
            await other_client.aclose()
    record_property("cases_tried", 6)


@pytest.mark.redis
async def test_twelve_racing_for_one_free_slot_get_it_once() -> None:
    async with redis_prefix() as (_, prefix):
        clients = [Redis.from_url(TEST_REDIS_URL) for _ in range(2)]
        replicas = [RedisStreamSlots(c, 1, prefix, owns_client=False) for c in clients]
        try:

            async def take(slots: RedisStreamSlots) -> Any:
                try:
                    return await slots.take("ada")
                except RateLimitExceeded:
                    return None

            taken = [s for s in await asyncio.gather(*(take(r) for r in replicas * 6)) if s is not None]
            assert len(taken) == 1
            taken[0].release()
        finally:
            for replica in replicas:
                await replica.close()
            for c in clients:
                await c.aclose()


@pytest.mark.redis
async def test_a_dead_replicas_slots_expire_and_a_live_ones_do_not(tmp_path: Path) -> None:
    """A replica holding Ada's one slot is alive for 3 ttl (its renewals keep the slot), then
    killed (-9: no clean-up): the slot is free within the ttl."""
    ttl = 1.0
    async with redis_prefix() as (client, prefix):
        here = RedisStreamSlots(client, 1, prefix, ttl_s=ttl, owns_client=False)
        holder = await asyncio.create_subprocess_exec(
            sys.executable, "-c", HOLDER, TEST_REDIS_URL, prefix, str(ttl),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert holder.stdout is not None
            assert await asyncio.wait_for(holder.stdout.readline(), 60) == b"taken\n"
            loop = asyncio.get_running_loop()
            until = loop.time() + 3 * ttl
            while loop.time() < until:  # renewed every ttl/3 by the live replica
                assert await _refused(here)
                await asyncio.sleep(ttl / 5)
        finally:
            holder.kill()
            await holder.wait()
        killed = loop.time()
        while await _refused(here):
            assert loop.time() - killed < ttl + 1.0, "a dead replica's slot never expired"
            await asyncio.sleep(0.05)
        await here.close()


async def _until_async(count: Callable[[], Any], expected: int, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (await count()) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"never {expected}"
        await asyncio.sleep(0.02)


@pytest.mark.redis
async def test_two_app_replicas_share_one_stream_limit(tmp_path: Path) -> None:
    """The API of two runtimes sharing one database and one Redis, MAX_STREAMS_PER_USER=2."""
    async with redis_prefix() as (_, prefix):
        with make_migrated_database_url("sqlite", tmp_path) as url:
            settings = make_settings(
                url, tmp_path, redis_url=TEST_REDIS_URL, redis_key_prefix=prefix, max_streams_per_user=2
            )
            async with (
                running(settings) as first,
                running(settings) as second,
                api_client(first) as on_first,
                api_client(second) as on_second,
            ):
                ada_id = await _user_id(first, "ada@example.org")
                made = await on_first.post(f"{PREFIX}/comparisons", json=SLOW)
                assert made.status_code == 201, made.text
                events = f"{PREFIX}/comparisons/{made.json()['id']}/events"
                streams = [
                    asyncio.create_task(on_first.get(events)),
                    asyncio.create_task(on_second.get(events)),
                ]
                await _until(lambda: first.stream_slots.open_for(ada_id) == 1)
                await _until(lambda: second.stream_slots.open_for(ada_id) == 1)
                for client in (on_first, on_second):  # one stream on each: the limit, on both
                    refused = await client.get(events)
                    assert refused.status_code == 429 and refused.json()["limit"] == "concurrent_streams"
                streams[0].cancel()  # the client on the first replica goes away
                await _until(lambda: first.stream_slots.open_for(ada_id) == 0)
                assert isinstance(second.stream_slots, RedisStreamSlots)
                await _until_async(lambda: second.stream_slots.open_everywhere(ada_id), 1)  # type: ignore[union-attr]
                streams.append(asyncio.create_task(on_second.get(events)))  # its slot is free everywhere
                await _until(lambda: second.stream_slots.open_for(ada_id) == 2)
                for task in streams:
                    task.cancel()
                await on_first.post(f"{PREFIX}/comparisons/{made.json()['id']}/cancel")
