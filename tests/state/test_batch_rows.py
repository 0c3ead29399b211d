"""A batch grid's cells: a failed cell's error is shown in the page's language (it is stored in
English), a model's answer exactly as written."""

from __future__ import annotations

from backend.db.batches import Cell
from backend.i18n import said_in
from backend.services.batch_results import CellView
from state.batch_rows import CELL_PREVIEW_CHARS, grid_cell


def _cell(status: str, output_text: str = "", error: str = "") -> CellView:
    cell = Cell("r1", "simulated:swift", 0, 1, status, output_text, error, None, None, 0, 0, 0.0)
    return CellView(cell, None)


def test_a_failed_cells_error_is_kept_in_every_language() -> None:
    failed = grid_cell(_cell("error", error="simulated failure after 3 tokens")).text
    assert said_in("en", failed) == "simulated failure after 3 tokens"
    assert said_in("ja", failed) == "シミュレーションの失敗（3 トークン後）"
    stopped = grid_cell(_cell("cancelled", error="Stopped by the user.")).text
    assert stopped == ""  # a stopped cell shows its (empty) answer, as before
    fixed = grid_cell(_cell("error", error="Stopped by the user.")).text
    assert said_in("ja", fixed) == "ユーザーが停止しました。"  # fixed sentences too: shown by `said`
    words = grid_cell(_cell("error", error="upstream said 502")).text
    assert said_in("ja", words) == "upstream said 502"  # a provider's words as written


def test_an_answer_is_shown_as_written_and_cut_to_the_preview() -> None:
    answer = "Run"  # a msgid of the catalogs: an answer is never translated (the page uses `said`)
    assert grid_cell(_cell("done", output_text=answer)).text == "Run"
    long = grid_cell(_cell("done", output_text="x" * (CELL_PREVIEW_CHARS + 5))).text
    assert long == "x" * CELL_PREVIEW_CHARS + "…"
