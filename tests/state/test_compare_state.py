"""CompareState's handlers, called directly on a state instance (no browser)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.runtime import Runtime, running
from backend.services.validation import MAX_PANES, MAX_TOKENS_ERROR, TEMPERATURE_ERROR
from devstack.postgres import migrated_sqlite_url
from state.compare import CompareState
from state.rows import ModelOption, PaneRow
from tests.backend.runtime_support import make_settings, owner, wait_until_final
from tests.state.support import in_tree, sign_in

S = CompareState


def _state(*models: str) -> CompareState:
    state = in_tree(CompareState)
    state.models = [
        ModelOption(id=m, label=m, family="simulated", available=True, reason="", simulated=True)
        for m in ("simulated:swift", "simulated:coder")
    ]
    state.panes = [PaneRow(pane_id=f"p{i}", model=m, label=m) for i, m in enumerate(models)]
    return state


def test_add_pane_stops_at_the_limit_with_a_message() -> None:
    state = _state()
    state.picker = "simulated:swift"
    for _ in range(MAX_PANES):
        S.add_pane.fn(state)
    assert len(state.panes) == MAX_PANES
    assert not state.can_add_pane
    S.add_pane.fn(state)
    assert len(state.panes) == MAX_PANES
    assert state.errors["panes"] == f"At most {MAX_PANES} panes can run at once."


def test_same_model_twice_is_allowed_and_panes_are_distinct() -> None:
    state = _state()
    state.picker = "simulated:swift"
    S.add_pane.fn(state)
    S.add_pane.fn(state)
    assert [p.model for p in state.panes] == ["simulated:swift", "simulated:swift"]
    assert state.panes[0].pane_id != state.panes[1].pane_id
    S.remove_pane.fn(state, state.panes[0].pane_id)
    assert len(state.panes) == 1


@pytest.mark.parametrize("value", ["5", "-0.1", "abc", ""])
def test_temperature_out_of_range_is_flagged_on_the_pane_and_not_applied(value: str) -> None:
    state = _state("simulated:swift")
    S.set_pane_temperature.fn(state, "p0", value)
    assert state.panes[0].field_errors == {"temperature": TEMPERATURE_ERROR}
    assert state.panes[0].typed == {"temperature": value}  # the field keeps showing what was typed
    assert state.panes[0].temperature == 0.7
    S.set_pane_temperature.fn(state, "p0", "1.2")
    assert state.panes[0].field_errors == {}
    assert state.panes[0].typed == {}
    assert state.panes[0].temperature == 1.2


@pytest.mark.parametrize("value", ["0", "40000", "1.5", "x"])
def test_max_tokens_out_of_range_is_flagged(value: str) -> None:
    state = _state("simulated:swift")
    S.set_pane_max_tokens.fn(state, "p0", value)
    assert state.panes[0].field_errors == {"max_tokens": MAX_TOKENS_ERROR}
    assert state.panes[0].max_tokens == 1024


def test_sync_settings_applies_one_panes_settings_to_all() -> None:
    state = _state("simulated:swift", "simulated:coder", "simulated:swift")
    S.set_pane_temperature.fn(state, "p1", "0.2")
    assert [p.temperature for p in state.panes] == [0.7, 0.2, 0.7]
    S.set_sync_settings.fn(state, True)
    assert [p.temperature for p in state.panes] == [0.7, 0.7, 0.7]
    S.set_pane_max_tokens.fn(state, "p2", "300")
    assert [p.max_tokens for p in state.panes] == [300, 300, 300]


def test_a_valid_field_does_not_clear_another_fields_error() -> None:
    """The defect: fixing max tokens cleared the temperature's message, and Run then used 0.7
    while the field still showed 5."""
    state = _state("simulated:swift")
    S.set_pane_param.fn(state, "p0", "temperature", "5")
    S.set_pane_param.fn(state, "p0", "max_tokens", "300")
    assert state.panes[0].field_errors == {"temperature": TEMPERATURE_ERROR}
    assert state.panes[0].max_tokens == 300


def test_changing_the_model_keeps_the_invalid_typing_and_its_message() -> None:
    state = _state("simulated:swift")
    S.set_pane_param.fn(state, "p0", "max_tokens", "0")
    S.set_pane_model.fn(state, "p0", "simulated:coder")
    assert state.panes[0].model == "simulated:coder"
    assert state.panes[0].field_errors == {"max_tokens": MAX_TOKENS_ERROR}
    assert state.panes[0].typed == {"max_tokens": "0"}


def test_synced_panes_show_the_same_invalid_text() -> None:
    state = _state("simulated:swift", "simulated:coder")
    S.set_sync_settings.fn(state, True)
    S.set_pane_param.fn(state, "p0", "temperature", "-1")
    assert [p.typed for p in state.panes] == [{"temperature": "-1"}] * 2
    assert all(p.field_errors == {"temperature": TEMPERATURE_ERROR} for p in state.panes)


def test_an_unknown_parameter_name_changes_nothing() -> None:
    state = _state("simulated:swift")
    S.set_pane_param.fn(state, "p0", "label", "x")
    assert state.panes[0].label == "simulated:swift"
    assert state.panes[0].field_errors == {}


def test_expand_is_exclusive_and_toggles() -> None:
    state = _state("simulated:swift", "simulated:coder")
    S.toggle_expand.fn(state, "p1")
    assert [p.expanded for p in state.panes] == [False, True]
    S.toggle_expand.fn(state, "p0")
    assert [p.expanded for p in state.panes] == [True, False]
    S.toggle_expand.fn(state, "p0")
    assert [p.expanded for p in state.panes] == [False, False]


def test_running_is_derived_from_pane_statuses() -> None:
    state = _state("simulated:swift", "simulated:coder")
    assert not state.running
    state.panes[1].status = "running"
    state.panes = list(state.panes)
    assert state.running


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(migrated_sqlite_url(tmp_path), tmp_path)) as rt:
        yield rt


async def test_run_with_bad_input_starts_nothing_and_says_why(runtime: Runtime) -> None:
    state = _state("simulated:swift", "simulated:nope")
    await sign_in(state, runtime)
    state.prompt = "   "
    result = await S.run.fn(state)
    assert result is None
    assert state.errors["prompt"] == "Enter a prompt."
    assert "unknown simulated model" in state.panes[1].field_errors["model"]
    assert state.comparison_id == ""
    assert (await runtime.comparisons.history(await owner(runtime))).total == 0


@pytest.mark.parametrize(("name", "typed"), [("temperature", "5"), ("max_tokens", "0")])
async def test_run_refuses_while_a_field_shows_an_invalid_value(
    runtime: Runtime, name: str, typed: str
) -> None:
    state = _state("simulated:swift", "simulated:coder")
    await sign_in(state, runtime)
    state.prompt = "Hello [[simulate:tokens=4]]"
    S.set_pane_param.fn(state, "p1", name, typed)
    S.set_pane_param.fn(state, "p1", "max_tokens" if name == "temperature" else "temperature", "1")
    assert await S.run.fn(state) is None
    assert state.errors["panes"] == "Fix the highlighted pane settings first."
    assert state.comparison_id == ""
    assert (await runtime.comparisons.history(await owner(runtime))).total == 0


async def test_the_saved_params_are_the_ones_the_fields_show(runtime: Runtime) -> None:
    state = _state("simulated:swift", "simulated:coder")
    await sign_in(state, runtime)
    state.prompt = "Hello [[simulate:tokens=4]]"
    S.set_pane_param.fn(state, "p0", "temperature", "5")
    S.set_pane_param.fn(state, "p0", "temperature", "1.3")  # fixed
    S.set_pane_param.fn(state, "p1", "max_tokens", "77")
    await S.run.fn(state)
    record = await wait_until_final(runtime.comparisons, state.comparison_id)
    assert [(r.params.temperature, r.params.max_tokens) for r in record.runs] == [(1.3, 1024), (0.7, 77)]


async def test_run_saves_the_comparison_and_hands_over_to_the_stream(runtime: Runtime) -> None:
    state = _state("simulated:swift", "simulated:coder")
    await sign_in(state, runtime)
    state.prompt = "Hello [[simulate:tokens=8]]"
    result = await S.run.fn(state)
    assert state.comparison_id
    assert [p.status for p in state.panes] == ["queued", "queued"]
    assert all(p.run_key.endswith(":0") for p in state.panes)
    assert result[-1] == S.stream  # step two: the background event follows the runs
    record = await wait_until_final(runtime.comparisons, state.comparison_id)
    assert [r.output_tokens for r in record.runs] == [8, 8]


async def test_retry_keeps_the_attempt_before_to_be_looked_at(runtime: Runtime) -> None:
    state = _state("simulated:swift")
    await sign_in(state, runtime)
    state.prompt = "Break early [[simulate:fail@2]]"
    await S.run.fn(state)
    record = await wait_until_final(runtime.comparisons, state.comparison_id)
    assert record.runs[0].status == "error"
    assert state.panes[0].attempt == 1 and state.panes[0].tokens_sent > 0

    assert await S.retry_pane.fn(state, state.panes[0].pane_id) == S.stream
    pane = state.panes[0]
    assert pane.attempt == 2
    assert pane.run_key.endswith(":1")
    assert pane.earlier_status == "error"
    assert "simulated failure" in pane.earlier_error
    assert pane.earlier_text == record.runs[0].output_text

    reopened = _state()  # another tab, or after a reload: the attempt before comes from the database
    await sign_in(reopened, runtime)
    reopened.comparison_id = state.comparison_id
    await S.load.fn(reopened)
    [again] = reopened.panes
    assert (again.attempt, again.earlier_status) == (2, "error")
    assert "simulated failure" in again.earlier_error and again.earlier_text == record.runs[0].output_text
