"""The pane parameter table: a parameter added later (an optional one, like a top-k) plugs in
with one row and is checked, kept and sent like temperature and max tokens."""

from __future__ import annotations

import pytest

from state.pane_params import PANE_PARAMS, PaneParam, copy_params, invalid_panes, params_of, set_param
from state.rows import PaneRow


def _top_k(text: str) -> int | None:
    return int(text) if text.isdigit() else None


@pytest.fixture
def with_top_k(monkeypatch: pytest.MonkeyPatch) -> None:
    param = PaneParam(_top_k, "Top K must be a whole number.", optional=True)
    monkeypatch.setitem(PANE_PARAMS, "top_k", param)


def _pane() -> PaneRow:
    pane = PaneRow(pane_id="p", model="simulated:swift", label="Swift")
    pane.top_k = None  # type: ignore[attr-defined]  # the field a later PaneRow would declare
    return pane


def test_an_optional_parameter_may_be_left_empty(with_top_k: None) -> None:
    pane = _pane()
    assert set_param(pane, "top_k", "42")
    assert params_of(pane)["top_k"] == 42
    assert set_param(pane, "top_k", "  ")  # emptied: not set, and no error
    assert params_of(pane)["top_k"] is None
    assert pane.field_errors == {}


def test_an_invalid_optional_value_blocks_like_any_other(with_top_k: None) -> None:
    pane = _pane()
    assert not set_param(pane, "top_k", "forty-two")
    assert pane.field_errors == {"top_k": "Top K must be a whole number."}
    assert pane.typed == {"top_k": "forty-two"}
    assert invalid_panes([pane]) == [pane]
    other = _pane()
    copy_params(pane, other)  # synced settings carry the invalid text and its message
    assert other.typed == {"top_k": "forty-two"} and invalid_panes([other]) == [other]


def test_a_service_error_on_the_model_does_not_block_run() -> None:
    pane = _pane()
    pane.field_errors = {"model": "unknown simulated model"}
    assert invalid_panes([pane]) == []
