"""Blind runs and battles on the compare page's state: labels until a vote or "Reveal"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.runtime import Runtime, running
from backend.services.blind import HIDDEN_ERROR
from devstack.postgres import migrated_sqlite_url
from state.compare import CompareState
from state.rows import ModelOption, PaneRow
from state.votes import VoteState
from tests.backend.runtime_support import make_settings, wait_until_final
from tests.state.support import in_tree, sign_in

S = CompareState
MODELS = ("simulated:swift", "simulated:coder", "simulated:instant")


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(migrated_sqlite_url(tmp_path), tmp_path)) as rt:
        yield rt


async def _tab(rt: Runtime, *models: str) -> CompareState:
    state = in_tree(CompareState)
    state.models = [
        ModelOption(id=m, label=m, family="simulated", available=True, reason="", simulated=True)
        for m in MODELS
    ]
    state.panes = [
        PaneRow(pane_id=f"p{i}", model=m, label=m, temperature=0.3, max_tokens=200)
        for i, m in enumerate(models)
    ]
    await sign_in(state, rt)
    return state


def _shown(state: CompareState) -> list[tuple[str, str, bool]]:
    return [(p.model, p.label, p.masked) for p in state.panes]


async def test_a_blind_run_shows_labels_and_reveal_shows_the_models(runtime: Runtime) -> None:
    state = await _tab(runtime, *MODELS)
    state.prompt = "[[simulate:tokens=4]] Which river is longer?"
    S.set_blind.fn(state, True)
    result = await S.run.fn(state)
    assert result is not None and result[-1] == S.stream
    assert state.masked
    assert _shown(state) == [(f"Model {x}", f"Model {x}", True) for x in "ABC"]
    assert not any(p.simulated for p in state.panes)  # the "simulated" badge would tell the family

    await wait_until_final(runtime.comparisons, state.comparison_id)
    await S.load.fn(state)  # a reload of the page: still masked
    assert state.masked and all(p.cost == "cost hidden" and p.tokens_in == 0 for p in state.panes)
    assert await S.run.fn(state) is None  # Run waits for "New" while a blind comparison is open

    assert await S.reveal.fn(state) == VoteState.load  # the vote panel names the models too
    assert not state.masked
    assert sorted(p.model for p in state.panes) == sorted(MODELS)
    assert all(p.cost.startswith("$") for p in state.panes)
    # Each pane keeps the label the person knew it by, beside its model.
    assert [p.blind_label for p in state.panes] == [f"Model {x}" for x in "ABC"]
    S.new_comparison.fn(state)  # revealed too, "New" brings back the panes in the order picked
    assert [(p.model, p.blind_label) for p in state.panes] == [(m, "") for m in MODELS]


async def test_voting_reveals_the_models_to_the_voter(runtime: Runtime) -> None:
    state = await _tab(runtime, *MODELS[:2])
    state.prompt = "[[simulate:tokens=3]] hi"
    S.set_blind.fn(state, True)
    await S.run.fn(state)
    await wait_until_final(runtime.comparisons, state.comparison_id)
    votes = await state.get_state(VoteState)
    await VoteState.load.fn(votes)
    assert [(p.label, p.model_name) for p in votes.panes] == [("Model A", ""), ("Model B", "")]
    VoteState.set_best.fn(votes, "0")
    follow_up = await VoteState.submit.fn(votes)
    assert follow_up == S.refresh_models
    assert [p.label.split(": ", 1)[0] for p in votes.panes] == ["Model A", "Model B"]
    assert sorted(p.label.split(": ", 1)[1] for p in votes.panes) == sorted(MODELS[:2])
    await S.refresh_models.fn(state)
    assert not state.masked and sorted(p.model for p in state.panes) == sorted(MODELS[:2])


async def test_a_battle_runs_two_drawn_models_blind_and_new_restores_my_panes(runtime: Runtime) -> None:
    state = await _tab(runtime, "simulated:swift")
    state.prompt = "[[simulate:tokens=2]] hi"
    await S.battle.fn(state)
    assert _shown(state) == [("Model A", "Model A", True), ("Model B", "Model B", True)]
    await wait_until_final(runtime.comparisons, state.comparison_id)
    S.new_comparison.fn(state)
    assert [(p.model, p.temperature, p.max_tokens, p.masked) for p in state.panes] == [
        ("simulated:swift", 0.3, 200, False)
    ]


async def test_a_failed_blind_pane_hides_the_providers_message(runtime: Runtime) -> None:
    state = await _tab(runtime, *MODELS[:2])
    state.prompt = "[[simulate:fail@1]] hi"
    S.set_blind.fn(state, True)
    await S.run.fn(state)
    await wait_until_final(runtime.comparisons, state.comparison_id)
    await S.load.fn(state)
    assert [p.error for p in state.panes] == [HIDDEN_ERROR, HIDDEN_ERROR]
