"""One token cannot hold unlimited streams or running comparisons (issue 15, bounded work).

Past MAX_STREAMS_PER_USER open SSE streams a new one is 429 with Retry-After (and the
limit's name), while another account is unaffected and a closed stream gives its slot back;
past MAX_RUNNING_COMPARISONS_PER_USER comparisons still running a new comparison is 429 with
nothing saved and no rate limit used, and once they finish it goes through.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from backend.runtime import Runtime
from tests.backend.runtime_support import api_client, running_on, wait_until_final

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
