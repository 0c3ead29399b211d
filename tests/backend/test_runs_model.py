"""A run's params and outcome, declared once: defaults, the stored form and the cost rule."""

from __future__ import annotations

import pytest

from backend.queue.messages import FinalEvent
from backend.runs_model import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_TEMPERATURE,
    UNSTARTED_OUTCOME,
    RunParams,
    final_outcome,
    run_cost_usd,
)


def test_params_take_the_defaults_for_missing_keys_and_read_as_the_stored_json() -> None:
    assert RunParams.of({}) == RunParams() == {"temperature": 0.7, "max_tokens": 1024, "seed": None}
    assert (DEFAULT_TEMPERATURE, DEFAULT_MAX_TOKENS) == (0.7, 1024)
    params = RunParams.of({"temperature": "0.2", "max_tokens": 300.0, "seed": 11, "stray": 1})
    assert (params.temperature, params.max_tokens, params.seed) == (0.2, 300, 11)
    assert params.stored() == {"temperature": 0.2, "max_tokens": 300, "seed": 11} == dict(params)
    assert RunParams.of(params) is params
    assert params != {"temperature": 0.2, "max_tokens": 300}


def test_a_cache_replay_costs_nothing_and_a_call_costs_the_catalog_price() -> None:
    # gpt-4o-mini lists 0.15 USD per million prompt tokens and 0.60 per million generated.
    assert run_cost_usd("openai:gpt-4o-mini", 1_000_000, 1_000_000, cache_hit=False) == pytest.approx(0.75)
    assert run_cost_usd("openai:gpt-4o-mini", 1_000_000, 1_000_000, cache_hit=True) == 0.0
    assert run_cost_usd("no-such:model", 1_000, 1_000, cache_hit=False) == 0.0


def test_a_final_event_becomes_the_priced_outcome() -> None:
    event = FinalEvent(
        run_id="r",
        attempt=1,
        status="done",
        output_text="answer",
        chunks=2,
        input_tokens=2_000_000,
        output_tokens=11,
        ttft_ms=10.0,
        total_ms=110.0,
    )
    outcome = final_outcome(event, "openai:gpt-4o-mini")
    assert (outcome.status, outcome.output_text, outcome.input_tokens) == ("done", "answer", 2_000_000)
    assert outcome.cost_usd == pytest.approx(0.30 + 11 * 0.60 / 1_000_000)
    assert outcome.tokens_per_second == pytest.approx(100.0)
    replay = final_outcome(event.model_copy(update={"cache_hit": True}), "openai:gpt-4o-mini")
    assert replay.cost_usd == 0.0 and replay.cache_hit


def test_the_unstarted_outcome_is_queued_and_empty() -> None:
    columns = UNSTARTED_OUTCOME.columns()
    assert columns["status"] == "queued" and columns["output_text"] == "" and columns["cost_usd"] == 0.0
    assert UNSTARTED_OUTCOME.tokens_per_second is None
