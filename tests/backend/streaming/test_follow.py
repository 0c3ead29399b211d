"""The one follow loop, as the page and the SSE route use it, on a whole runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import ExitStack

import pytest

import backend.streaming.follow as follow_module
from backend.db.records import ComparisonRecord
from backend.queue.messages import ChunkEvent, StartedEvent
from backend.runtime import Runtime
from backend.streaming.follow import (
    AccessLost,
    FlushShare,
    FollowBatch,
    Pacing,
    follow_runs,
    page_pacing,
    sse_pacing,
)
from backend.streaming.follower import short_key
from backend.streaming.hub import RunHub
from tests.backend.runtime_support import owner, wait_until_final

PROMPT = "[[simulate:tokens=60]] Explain how tides work"


async def create(rt: Runtime, models: list[str]) -> ComparisonRecord:
    panes = [{"model": m} for m in models]
    return await rt.comparisons.create(await owner(rt), {"prompt": PROMPT, "panes": panes})


def keys(record: ComparisonRecord) -> dict[str, str]:
    return {run.id: f"{run.id}:{run.attempt}" for run in record.runs}


async def collect(updates: AsyncIterator[FollowBatch], timeout: float = 10.0) -> list[FollowBatch]:
    async def drain() -> list[FollowBatch]:
        return [batch async for batch in updates]

    return await asyncio.wait_for(drain(), timeout)


async def test_the_page_loop_sends_every_character_once_and_ends_with_the_runs(rt: Runtime) -> None:
    created = await create(rt, ["simulated:swift", "simulated:instant"])
    pacing = page_pacing(rt.settings.stream_flush_hz, rt.page_flushes)
    batches = await collect(
        rt.comparisons.follow(created.id, keys(created), pacing=pacing, client_key=short_key)
    )

    saved = await wait_until_final(rt.comparisons, created.id)
    received = {short_key(key): "" for key in keys(created).values()}
    for batch in batches:
        for entry in batch.live:
            assert entry.key in received and entry.offset == len(received[entry.key])  # ASCII text
            received[entry.key] += entry.text
    assert received == {short_key(f"{r.id}:{r.attempt}"): r.output_text for r in saved.runs}
    ended = {run_id for batch in batches for run_id in batch.ended}
    assert ended == {r.id for r in created.runs}
    final_statuses = {rid: live.status for b in batches for rid, live in b.changed.items() if live.is_final}
    assert final_statuses == {r.id: "done" for r in created.runs}
    assert len(batches) > 2  # streamed over several flushes, not one


async def test_runs_the_hub_no_longer_follows_are_read_from_the_database(rt: Runtime) -> None:
    created = await create(rt, ["simulated:instant"])
    saved = await wait_until_final(rt.comparisons, created.id)
    for run in created.runs:
        rt.hub.forget(run.id)  # as after a restart
    for pacing in (page_pacing(rt.settings.stream_flush_hz, rt.page_flushes), sse_pacing(keepalive_s=15.0)):
        batches = await collect(rt.comparisons.follow(created.id, keys(created), pacing=pacing))
        assert len(batches) == 1
        assert batches[0].live == [] and batches[0].changed == {}
        assert {rid: r.output_text for rid, r in batches[0].saved.items()} == {
            r.id: r.output_text for r in saved.runs
        }
        assert batches[0].ended == {r.id for r in created.runs}


async def test_a_reread_answering_none_stops_the_loop(rt: Runtime) -> None:
    created = await create(rt, ["simulated:stall"])
    reads = 0

    async def reread() -> dict[str, str] | None:
        nonlocal reads
        reads += 1
        return None  # the page moved on (another comparison, Stop)

    pacing = page_pacing(rt.settings.stream_flush_hz, rt.page_flushes)
    updates = rt.comparisons.follow(created.id, keys(created), pacing=pacing, reread=reread)
    batches = await collect(updates, timeout=5.0)
    assert reads == 1 and len(batches) <= 1
    await rt.comparisons.cancel(await owner(rt), created.id, None)


def test_a_session_alone_flushes_at_its_floor_and_many_share_the_budget() -> None:
    share = FlushShare(per_second=1000.0)
    pacing = page_pacing(40.0, share)
    with share.following():
        assert pacing.current_interval() == 1 / 40  # one session: its own floor
        with ExitStack() as more:
            for _ in range(99):
                more.enter_context(share.following())
            assert pacing.current_interval() == 100 / 1000  # a hundred share 1,000 a second
        assert share.followers == 1
    assert share.followers == 0


async def test_a_page_loop_counts_as_a_follower_until_it_ends(rt: Runtime) -> None:
    created = await create(rt, ["simulated:stall"])
    updates = rt.comparisons.follow(
        created.id, keys(created), pacing=page_pacing(rt.settings.stream_flush_hz, rt.page_flushes)
    )
    await anext(updates)
    assert rt.page_flushes.followers == 1
    await updates.aclose()  # the page moved on
    assert rt.page_flushes.followers == 0
    await rt.comparisons.cancel(await owner(rt), created.id, None)


def test_sse_streams_flush_every_10_ms_until_they_share_the_budget() -> None:
    share = FlushShare(per_second=5000.0)
    pacing = sse_pacing(keepalive_s=15.0, share=share)
    with ExitStack() as streams:
        for _ in range(50):
            streams.enter_context(share.following())
        assert pacing.current_interval() == 0.01  # fifty streams: each change within 10 ms
        for _ in range(450):
            streams.enter_context(share.following())
        assert pacing.current_interval() == 500 / 5000  # five hundred: a write every 100 ms each
    assert sse_pacing(keepalive_s=15.0).current_interval() == 0.01  # no budget: the floor


async def test_an_sse_stream_counts_against_the_process_budget_until_it_ends(rt: Runtime) -> None:
    created = await create(rt, ["simulated:stall"])
    pacing = sse_pacing(15.0, rt.sse_flushes)
    updates = rt.comparisons.follow(created.id, keys(created), pacing=pacing)
    await anext(updates)
    assert rt.sse_flushes.followers == 1 and rt.page_flushes.followers == 0
    await updates.aclose()  # the client went away
    assert rt.sse_flushes.followers == 0
    await rt.comparisons.cancel(await owner(rt), created.id, None)


async def test_an_sse_stream_coalesces_many_chunks_into_few_flushes(rt: Runtime) -> None:
    created = await create(rt, ["simulated:steady"] * 4)  # 4 runs x 60 chunks, 10 ms apart
    before = rt.hub.version
    batches = await collect(rt.comparisons.follow(created.id, keys(created), pacing=sse_pacing(15.0)))
    changes = rt.hub.version - before
    assert changes >= 240
    # Woken once per 10 ms at most (about 60 flushes over 0.6 s), not once per chunk of every run.
    assert len(batches) < changes / 2


@pytest.fixture
def quick_recheck(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(follow_module, "ACCESS_RECHECK_S", 0.2)


@pytest.mark.parametrize("lost", ["removed from the project", "signed out"])
async def test_a_reader_who_loses_access_mid_stream_gets_no_more(
    rt: Runtime, quick_recheck: None, lost: str
) -> None:
    ada = await owner(rt, "ada@example.org")
    await owner(rt, "vi@example.org")
    project_id = await rt.projects.create(ada, "Team")
    await rt.projects.set_member(ada, project_id, "vi@example.org", "viewer")
    vi = await owner(rt, "vi@example.org")
    created = await rt.comparisons.create(
        ada,
        {
            "prompt": "[[simulate:tokens=300]] long",
            "panes": [{"model": "simulated:steady"}],
            "project_id": project_id,
        },
    )
    signed_in = True

    async def session_alive() -> bool:
        return signed_in

    updates = rt.comparisons.follow(
        created.id, keys(created), pacing=sse_pacing(15.0), reader=vi, signed_in=session_alive
    )
    received: list[FollowBatch] = [await anext(updates)]
    if lost == "signed out":
        signed_in = False
    else:
        await rt.projects.remove_member(ada, project_id, "vi@example.org")
    with pytest.raises(AccessLost):
        async with asyncio.timeout(2.0):
            async for batch in updates:  # a few batches until the next check, then no more
                received.append(batch)
    assert not any(batch.ended for batch in received)  # the 3 s run was still streaming
    await rt.comparisons.cancel(ada, created.id, None)


async def test_a_reader_who_keeps_access_follows_to_the_end(rt: Runtime, quick_recheck: None) -> None:
    ada = await owner(rt)
    created = await create(rt, ["simulated:steady"])

    async def session_alive() -> bool:
        return True

    updates = rt.comparisons.follow(
        created.id, keys(created), pacing=sse_pacing(15.0), reader=ada, signed_in=session_alive
    )
    batches = await collect(updates)
    assert {rid for b in batches for rid in b.ended} == {r.id for r in created.runs}


async def test_a_database_hiccup_during_a_re_check_does_not_cut_the_stream(
    rt: Runtime, quick_recheck: None
) -> None:
    ada = await owner(rt)
    created = await create(rt, ["simulated:steady"])
    checks = 0

    async def flaky_session() -> bool:
        nonlocal checks
        checks += 1
        if checks == 1:
            raise ConnectionError("the database restarted")
        return True

    updates = rt.comparisons.follow(
        created.id, keys(created), pacing=sse_pacing(15.0), reader=ada, signed_in=flaky_session
    )
    batches = await collect(updates)
    assert checks >= 2  # asked again after the failure, and the stream went on to the end
    assert {rid for b in batches for rid in b.ended} == {r.id for r in created.runs}


class _NoSavedRuns:
    async def get_unchecked(self, comparison_id: str) -> ComparisonRecord:
        raise LookupError(comparison_id)


@pytest.mark.parametrize("text_paced", [True, False])
async def test_a_status_flush_holds_back_the_first_words_only_where_status_is_paced(text_paced: bool) -> None:
    """An SSE stream (text_paced) sends the first words a moment after the run started at once:
    the "running" flush before them does not start the interval. Text still does."""
    hub = RunHub()
    hub.track("r", 0)
    interval = 0.5
    pacing = Pacing(interval_s=interval, idle_wait_s=5.0, text_paced=text_paced)
    loop = asyncio.get_running_loop()
    batches = follow_runs(hub, _NoSavedRuns(), "c", {"r": "r:0"}, pacing=pacing)
    sent: list[tuple[float, str, str]] = []

    async def next_batch() -> None:
        batch = await anext(batches)
        sent.append((loop.time(), batch.live[0].status, batch.live[0].text))

    await next_batch()  # queued, at once
    await hub.apply(StartedEvent(run_id="r", attempt=0))
    await next_batch()  # running
    await hub.apply(ChunkEvent(run_id="r", attempt=0, seq=0, text="Hi", elapsed_ms=1.0, output_tokens=1))
    await next_batch()  # the first words
    await hub.apply(ChunkEvent(run_id="r", attempt=0, seq=1, text=" there", elapsed_ms=2.0, output_tokens=2))
    await next_batch()
    await batches.aclose()

    assert [(status, text) for _, status, text in sent] == [
        ("queued", ""),
        ("running", ""),
        ("running", "Hi"),
        ("running", " there"),
    ]
    first_words_after = sent[2][0] - sent[1][0]
    assert (first_words_after < interval / 2) if text_paced else (first_words_after >= interval * 0.9)
    assert sent[3][0] - sent[2][0] >= interval * 0.9  # text after text waits the interval either way
