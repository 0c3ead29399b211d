"""CompareState and the response cache / rate limits: the switch, the badge row, the message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.i18n import said_in
from backend.queue.messages import FinalEvent
from backend.runtime import Runtime, running
from backend.streaming.hub import LiveRun
from devstack.postgres import migrated_sqlite_url
from state.compare import CompareState
from state.rows import PaneRow, apply_live, panes_from_record
from tests.backend.runtime_support import make_settings, owner, wait_until_final
from tests.state.support import in_tree, sign_in
from tests.support.clock import FakeClock

S = CompareState


def _state(*models: str) -> CompareState:
    state = in_tree(CompareState)
    state.panes = [PaneRow(pane_id=f"p{i}", model=m, label=m, temperature=0.0) for i, m in enumerate(models)]
    return state


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = make_settings(migrated_sqlite_url(tmp_path), tmp_path, rate_limit_requests_per_minute=2)
    async with running(settings, FakeClock()) as rt:  # the limits' window stays put
        yield rt


async def test_over_the_limit_shows_the_message_next_to_run_and_starts_nothing(runtime: Runtime) -> None:
    state = _state("simulated:swift", "simulated:coder")
    await sign_in(state, runtime)
    state.prompt = "Hello [[simulate:tokens=4]]"
    await S.run.fn(state)
    first = state.comparison_id
    await wait_until_final(runtime.comparisons, first)
    state.panes = [PaneRow(pane_id="p0", model="simulated:swift", label="s", temperature=0.0)]
    state.comparison_id = ""
    result = await S.run.fn(state)
    assert result is None
    assert said_in("en", state.limit_error).startswith(
        "Rate limit reached: at most 2 model requests a minute"
    )
    assert state.comparison_id == ""
    assert (await runtime.comparisons.history(await owner(runtime))).total == 1


async def test_use_cache_switch_goes_into_the_request_and_a_replay_is_marked(runtime: Runtime) -> None:
    state = _state("simulated:swift")
    await sign_in(state, runtime)
    state.prompt = "Hello [[simulate:tokens=4]]"
    S.set_use_cache.fn(state, True)
    await S.run.fn(state)
    first = await wait_until_final(runtime.comparisons, state.comparison_id)
    assert first.settings == {"use_cache": True}
    state.comparison_id, state.panes[0].status = "", "done"  # as the stream would have left it
    await S.run.fn(state)
    second = await wait_until_final(runtime.comparisons, state.comparison_id)
    row = panes_from_record(second)[0]
    assert row.cached is True
    assert said_in("en", row.original).startswith("original call: TTFT ")
    assert panes_from_record(first)[0].cached is False
    assert panes_from_record(first)[0].original == ""


def test_apply_live_marks_a_cached_final_and_keeps_the_original_figures() -> None:
    row = PaneRow(pane_id="p", model="simulated:swift", label="Swift")
    live = LiveRun(run_id="r", attempt=0)
    live.final = FinalEvent(
        run_id="r",
        attempt=0,
        status="done",
        output_text="a b c",
        chunks=3,
        input_tokens=5,
        output_tokens=3,
        ttft_ms=0.4,
        total_ms=1.2,
        cache_hit=True,
        original_ttft_ms=250.0,
        original_total_ms=1250.0,
    )
    apply_live(row, live)
    assert row.cached is True
    assert row.ttft == "0 ms" and row.elapsed == "1 ms"
    assert said_in("en", row.original) == "original call: TTFT 250 ms · 2.0 tok/s · 1.25 s"
    assert row.cost == "$0"
