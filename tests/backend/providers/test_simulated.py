"""The simulated family: deterministic text, directives, pacing."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from backend.catalog import estimate_tokens, load_catalog
from backend.providers.base import BadRequest, ChatRequest, ProviderUnavailable, TextChunk
from backend.providers.simulated import SimulatedProvider, simulated_text
from tests.backend.providers.helpers import collect


def req(
    prompt: str = "Explain vector databases",
    *,
    model: str = "instant",
    system_prompt: str = "",
    max_tokens: int = 1024,
    seed: int | None = None,
) -> ChatRequest:
    return ChatRequest(model, prompt, system_prompt=system_prompt, max_tokens=max_tokens, seed=seed)


def test_same_request_gives_the_same_tokens() -> None:
    request = req(system_prompt="Be precise.", seed=7)
    first = simulated_text("swift", request)
    assert first == simulated_text("swift", request)
    assert 100 <= len(first) <= 600
    assert "".join(first).startswith("## ")  # prose answers open with a heading


def test_seed_prompt_system_prompt_and_model_all_change_the_text() -> None:
    base = simulated_text("swift", req(seed=1))
    assert simulated_text("swift", req(seed=2)) != base
    assert simulated_text("swift", req("Explain message queues", seed=1)) != base
    assert simulated_text("swift", req(seed=1, system_prompt="Be terse.")) != base
    assert simulated_text("ponder", req(seed=1)) != base


def test_styles_shape_the_markdown() -> None:
    code = "".join(simulated_text("coder", req(seed=3)))
    bullets = "".join(simulated_text("steady", req(seed=3)))
    terse = simulated_text("terse", req(seed=3))
    assert "```python\ndef " in code and code.count("```") >= 2
    assert "\n- **" in bullets
    assert len(terse) <= 120


async def test_stream_matches_simulated_text_and_reports_usage() -> None:
    request = req(system_prompt="Be precise.", seed=11)
    expected = simulated_text("instant", request)
    result = await collect(SimulatedProvider(), request)
    assert result.chunks == expected
    assert result.end is not None
    assert result.end.usage.output_tokens == len(expected)
    assert result.end.usage.input_tokens == estimate_tokens("Be precise." + request.prompt)
    assert result.end.finish_reason == "stop"


async def test_max_tokens_truncates_with_length_finish_reason() -> None:
    request = req(max_tokens=10, seed=1)
    result = await collect(SimulatedProvider(), request)
    assert len(result.chunks) == 10
    assert result.chunks == simulated_text("instant", req(seed=1))[:10]
    assert result.end is not None and result.end.finish_reason == "length"


@pytest.mark.parametrize("count", [1, 57, 1500])
async def test_tokens_directive_fixes_the_length_exactly(count: int) -> None:
    result = await collect(SimulatedProvider(), req(f"Hi [[simulate:tokens={count}]]", max_tokens=2048))
    assert len(result.chunks) == count
    assert result.end is not None and result.end.usage.output_tokens == count


async def test_fail_directive_raises_after_n_tokens() -> None:
    request = req("Explain [[simulate:fail@5]]", model="swift")
    result = await collect(SimulatedProvider(), request)
    assert isinstance(result.error, ProviderUnavailable)
    assert result.error.message == "simulated failure after 5 tokens"
    assert result.chunks == simulated_text("swift", request)[:5]


async def test_flaky_profile_fails_after_forty_tokens() -> None:
    result = await collect(SimulatedProvider(), req(model="flaky"))
    assert isinstance(result.error, ProviderUnavailable)
    assert len(result.chunks) == 40


async def test_stall_directive_pauses_then_continues() -> None:
    stamps: list[float] = []
    request = req("Hi [[simulate:stall@3:0.4]] [[simulate:tokens=6]]")
    async for item in SimulatedProvider().stream(request):
        if isinstance(item, TextChunk):
            stamps.append(time.perf_counter())
    assert len(stamps) == 6
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert gaps[2] >= 0.35  # between token 3 and token 4
    assert max(gaps[:2] + gaps[3:]) < 0.2  # instant otherwise


async def test_instant_model_never_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    handovers: list[float] = []
    real_sleep = asyncio.sleep

    async def no_sleep(delay: float, result: object = None) -> None:
        if delay > 0:
            raise AssertionError(f"instant model slept {delay}s")
        handovers.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", no_sleep)
    result = await collect(SimulatedProvider(), req("Hi [[simulate:tokens=2000]]", max_tokens=2000))
    assert result.error is None and len(result.chunks) == 2000
    # No timer: only the loop handed over, between bursts of 64 tokens and after each millisecond
    # of building the answer (run_sliced: none or one or two here, as fast as the machine is).
    assert 1999 // 64 <= len(handovers) <= 1999 // 64 + 20


async def test_a_long_instant_answer_hands_the_event_loop_over() -> None:
    """Issue 15 (bounded work): the instant model never awaited, so the largest allowed answer
    (32,768 tokens) held the event loop for its whole length. Counted, not timed: how often
    another task runs while it streams."""
    turns = 0

    async def other_work() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    other = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    before = turns
    result = await collect(SimulatedProvider(), req("Hi [[simulate:tokens=32768]]", max_tokens=32_768))
    during = turns - before
    other.cancel()
    assert len(result.chunks) == 32_768
    assert during >= 32_768 // 64 - 1, during  # at least once every 64 tokens


async def test_the_tokens_directive_is_bounded_by_max_tokens() -> None:
    # A directive may not ask more than a real model may write (issue 15: an unbounded one
    # built a 300,000-token answer on the event loop).
    capped = await collect(SimulatedProvider(), req("Hi [[simulate:tokens=300000]]", max_tokens=64))
    assert len(capped.chunks) == 64 and capped.end is not None and capped.end.finish_reason == "length"
    exact = await collect(SimulatedProvider(), req("Hi [[simulate:tokens=30]]", max_tokens=64))
    assert len(exact.chunks) == 30 and exact.end is not None and exact.end.finish_reason == "stop"


async def test_pacing_follows_the_profile_roughly() -> None:
    # steady: ttft 100 ms then 100 tok/s, no jitter -> 0.1 + 49 * 0.01 = 0.59 s for 50 tokens.
    start = time.perf_counter()
    first: float | None = None
    async for item in SimulatedProvider().stream(req("Hi [[simulate:tokens=50]]", model="steady")):
        if first is None and isinstance(item, TextChunk):
            first = time.perf_counter() - start
    total = time.perf_counter() - start
    assert first is not None and 0.09 <= first < 1.0
    assert 0.55 <= total < 3.0


async def test_slow_model_has_a_long_time_to_first_token() -> None:
    start = time.perf_counter()
    async for _ in SimulatedProvider().stream(req("Hi [[simulate:tokens=1]]", model="ponder")):
        break
    assert time.perf_counter() - start >= 0.5  # 900 ms ± 40 % jitter


async def test_unknown_model_and_disabled_family() -> None:
    unknown = await collect(SimulatedProvider(), req(model="nope"))
    disabled = await collect(SimulatedProvider(enabled=False), req())
    assert isinstance(unknown.error, BadRequest) and "instant" in unknown.error.message
    assert isinstance(disabled.error, ProviderUnavailable)


def test_every_simulated_catalog_model_generates_text() -> None:
    for info in load_catalog().by_family("simulated"):
        tokens = simulated_text(info.name, req(seed=5))
        assert tokens and not tokens[0][0].isspace(), info.id
