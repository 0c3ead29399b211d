"""The pane parameter table: a parameter added later (an optional one, like a seed) plugs in
with one row and is checked, kept and sent like temperature and max tokens."""

from __future__ import annotations

import pytest

from state.pane_params import PANE_PARAMS, PaneParam, copy_params, invalid_panes, params_of, set_param
from state.rows import PaneRow


def _seed(text: str) -> int | None:
    return int(text) if text.isdigit() else None


@pytest.fixture
def with_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PANE_PARAMS, "seed", PaneParam(_seed, "Seed must be a whole number.", optional=True))


def _pane() -> PaneRow:
    pane = PaneRow(pane_id="p", model="simulated:swift", label="Swift")
    pane.seed = None  # type: ignore[attr-defined]  # the field a later PaneRow would declare
    return pane


def test_an_optional_parameter_may_be_left_empty(with_seed: None) -> None:
    pane = _pane()
    assert set_param(pane, "seed", "42")
    assert params_of(pane)["seed"] == 42
    assert set_param(pane, "seed", "  ")  # emptied: not set, and no error
    assert params_of(pane)["seed"] is None
    assert pane.field_errors == {}


def test_an_invalid_optional_value_blocks_like_any_other(with_seed: None) -> None:
    pane = _pane()
    assert not set_param(pane, "seed", "forty-two")
    assert pane.field_errors == {"seed": "Seed must be a whole number."}
    assert pane.typed == {"seed": "forty-two"}
    assert invalid_panes([pane]) == [pane]
    other = _pane()
    copy_params(pane, other)  # synced settings carry the invalid text and its message
    assert other.typed == {"seed": "forty-two"} and invalid_panes([other]) == [other]


def test_a_service_error_on_the_model_does_not_block_run() -> None:
    pane = _pane()
    pane.field_errors = {"model": "unknown simulated model"}
    assert invalid_panes([pane]) == []
