"""The simulated model family: keyless, offline, deterministic streams.

Each `simulated:<name>` model has a `SimulationProfile` in the catalog that
sets its pacing (time to first token, tokens per second, jitter) and its
writing style.  Text and timing pattern are both derived from one seed, a
hash of (model, system prompt, prompt, request seed), so the same request
always streams the same tokens — tests and benchmarks can compute the exact
expected output with `simulated_text`.

Any simulated model also obeys directives embedded in the prompt, so failures
can be provoked from the UI or a test without a special model:

    [[simulate:fail@N]]          raise ProviderUnavailable after N tokens
    [[simulate:stall@N:SECONDS]] pause SECONDS after N tokens, then continue
    [[simulate:tokens=N]]        answer with exactly N tokens, at most max_tokens (then it stops
                                 there with finish reason "length", as a real model would)

The "judge" style (`simulated:judge`) answers a JSON verdict on the two answers of an
LLM-as-judge prompt instead of Markdown (backend/providers/simulated_judge.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass

from backend.catalog import SimulationProfile, estimate_tokens, load_catalog
from backend.i18n import Message
from backend.providers.base import (
    BadRequest,
    ChatRequest,
    ProviderUnavailable,
    StreamEnd,
    StreamItem,
    TextChunk,
    Usage,
)
from backend.providers.simulated_markdown import LENGTH_RANGE, blocks, split_tokens, topic_words
from backend.providers.simulated_options import shaped_answer
from backend.run_errors import SIMULATED_DISABLED, SIMULATED_FAILURE
from backend.settings import Settings
from backend.time_slice import run_sliced, run_through

_DIRECTIVE = re.compile(r"\[\[simulate:(fail@(\d+)|stall@(\d+):(\d+(?:\.\d+)?)|tokens=(\d+))\]\]")


@dataclass(frozen=True, slots=True)
class SimulationPlan:
    """Everything one simulated answer will do, decided before streaming starts."""

    tokens: tuple[str, ...]
    finish_reason: str
    fail_after: int | None
    stall_after: int | None
    stall_seconds: float
    seed: int


def profile_for(model_name: str) -> SimulationProfile:
    info = load_catalog().get(f"simulated:{model_name}")
    if info is None or info.simulation is None:
        known = ", ".join(m.name for m in load_catalog().by_family("simulated"))
        raise BadRequest(f"unknown simulated model {model_name!r} (known: {known})")
    return info.simulation


def plan_for(model_name: str, request: ChatRequest) -> SimulationPlan:
    return run_through(planning(model_name, request))


def planning(model_name: str, request: ChatRequest) -> Generator[None, None, SimulationPlan]:
    """`plan_for`, a block at a time: it yields between blocks, so the provider builds a long
    answer (32,768 tokens took 22 ms) handing the event loop over (`run_sliced`)."""
    profile = profile_for(model_name)
    fail_after, stall_after, stall_seconds = (
        profile.fail_after_tokens,
        profile.stall_after_tokens,
        profile.stall_seconds,
    )
    exact_length: int | None = None
    for match in _DIRECTIVE.finditer(request.prompt):
        if match.group(2) is not None:
            fail_after = int(match.group(2))
        elif match.group(3) is not None:
            stall_after, stall_seconds = int(match.group(3)), float(match.group(4))
        else:
            exact_length = int(match.group(5))

    seed = _seed(model_name, request)
    if profile.style == "judge":  # a verdict on the two answers in the prompt (simulated_judge.py)
        from backend.providers.simulated_judge import judge_reply

        verdict = tuple(split_tokens(judge_reply(request.prompt)))
        return SimulationPlan(verdict, "stop", fail_after, stall_after, stall_seconds, seed)
    rng = random.Random(seed)
    topics = topic_words(_DIRECTIVE.sub(" ", request.prompt), rng)
    # The answer is built before it streams: bounded by max_tokens (validated at 32,768 at most),
    # never by the directive alone (issue 15: tokens=300000 once held the event loop 5 s).
    limit = max(request.max_tokens, 1)
    target = (
        min(exact_length, limit) if exact_length is not None else rng.randint(*LENGTH_RANGE[profile.style])
    )
    tokens: list[str] = []
    for block in blocks(profile.style, topics, rng):
        tokens.extend(split_tokens(("\n\n" if tokens else "") + block))
        if len(tokens) >= target:  # stop at the end of the block that reaches the target
            break
        yield
    finish_reason = "stop"
    if exact_length is not None:
        tokens = tokens[:exact_length]
    tokens, _ = yield from shaped_answer(tokens, request)  # images, JSON output, stop sequences
    if len(tokens) > max(request.max_tokens, 1):  # a directive asks no more than a real model may write
        tokens, finish_reason = tokens[: max(request.max_tokens, 1)], "length"
    return SimulationPlan(tuple(tokens), finish_reason, fail_after, stall_after, stall_seconds, seed)


def simulated_text(model_name: str, request: ChatRequest) -> list[str]:
    """The exact chunks `SimulatedProvider` streams for this model and request."""
    return list(plan_for(model_name, request).tokens)


class SimulatedProvider:
    """Streams `plan_for(...)` with the model's pacing; never touches the network."""

    def __init__(self, enabled: bool = True) -> None:
        self._enabled = enabled

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        if not self._enabled:
            raise ProviderUnavailable(SIMULATED_DISABLED)
        profile = profile_for(request.model)
        plan = await run_sliced(planning(request.model, request))
        pacer = _Pacer(profile, random.Random(plan.seed + 1))
        await pacer.first_token()
        for index, token in enumerate(plan.tokens):
            if index == plan.fail_after:
                raise ProviderUnavailable(Message(SIMULATED_FAILURE, n=index))
            if index == plan.stall_after:
                await pacer.stall(plan.stall_seconds)
            if index:
                await pacer.next_token()
            yield TextChunk(token)
        if plan.fail_after is not None:  # a requested failure happens even if the answer is shorter
            raise ProviderUnavailable(Message(SIMULATED_FAILURE, n=len(plan.tokens)))
        usage = Usage(
            input_tokens=estimate_tokens(request.input_text),
            output_tokens=len(plan.tokens),
        )
        yield StreamEnd(usage=usage, finish_reason=plan.finish_reason)


INSTANT_YIELD_EVERY = 64


class _Pacer:
    """Sleeps on an absolute schedule so per-token overhead does not add up to drift.

    The instant profile (ttft 0, infinite speed) waits on no timer, so
    throughput benchmarks measure the pipeline, not the event loop's timers; it
    only hands the loop over every `INSTANT_YIELD_EVERY` tokens (sleep(0)), so a
    long instant answer never holds the event loop for its whole length (issue 15:
    32,768 tokens held it 80 ms per pane, seconds with the pipeline behind it).
    Explicit stalls are still honoured: they were asked for.
    """

    def __init__(self, profile: SimulationProfile, rng: random.Random) -> None:
        self._profile = profile
        self._rng = rng
        self._deadline = 0.0
        self._tokens = 0

    def _jittered(self, seconds: float) -> float:
        if not self._profile.jitter:  # nothing to draw: the steady models' every token
            return seconds
        return seconds * (1 + self._profile.jitter * self._rng.uniform(-1.0, 1.0))

    async def _sleep_until_deadline(self) -> None:
        delay = self._deadline - asyncio.get_running_loop().time()
        await asyncio.sleep(max(delay, 0.0))

    async def first_token(self) -> None:
        self._deadline = asyncio.get_running_loop().time()
        if self._profile.instant:
            return
        self._deadline += self._jittered(self._profile.ttft_ms / 1000)
        await self._sleep_until_deadline()

    async def next_token(self) -> None:
        if self._profile.instant:
            self._tokens += 1
            if self._tokens % INSTANT_YIELD_EVERY == 0:
                await asyncio.sleep(0)
            return
        self._deadline += self._jittered(1 / self._profile.tokens_per_second)
        # `_sleep_until_deadline`, inline: one coroutine less for each of 20,000 tokens a second.
        await asyncio.sleep(max(self._deadline - asyncio.get_running_loop().time(), 0.0))

    async def stall(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)
        self._deadline = asyncio.get_running_loop().time()


def _seed(model_name: str, request: ChatRequest) -> int:
    # sha256, not hash(): Python's str hash is randomised per process.
    parts = [model_name, request.system_prompt, request.prompt, str(request.seed)]
    if options := request.options.cache_part():  # sampling options vary the answer; none: as before
        parts.append(options)
    key = "\x00".join(parts)
    if request.history:  # a follow-up's answer depends on the conversation so far
        key += "\x00" + "\x00".join(text for pair in request.history for text in pair)
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def from_settings(settings: Settings) -> SimulatedProvider:
    return SimulatedProvider(enabled=settings.simulated_enabled)
