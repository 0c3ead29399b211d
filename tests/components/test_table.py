"""components/table.py: the shared data table's shape, read from the JSX Reflex compiles it to
(the pages' browser tests find these tables by their captions' names)."""

from __future__ import annotations

import reflex as rx

from components.table import data_table, header_cell


def _rows() -> rx.Component:
    return rx.foreach(rx.Var.create([1, 2]), lambda x: rx.table.row(rx.table.cell(x)))


def test_the_caption_names_the_table_and_a_narrow_screen_scrolls_it() -> None:
    jsx = str(data_table("Votes per pane", [header_cell("Pane"), header_cell("Best")], _rows()))
    box, root = jsx.index("RadixThemesBox"), jsx.index("RadixThemesTable.Root")
    assert box < root  # the scroll box wraps the table, not the other way round
    assert '["overflowX"] : "auto"' in jsx[box:root]
    # The caption is the table's first child: it names the table itself, not Radix's wrapper div.
    assert jsx.index('jsx("caption",{className:"sr-only"},"Votes per pane")') < jsx.index(
        "RadixThemesTable.Header"
    )
    assert jsx.count("RadixThemesTable.ColumnHeaderCell") == 2
    assert 'size:"1"' in jsx


def test_a_dynamic_header_part_and_the_default_size() -> None:
    models = rx.Var.create(["a", "b"])
    jsx = str(data_table("Grid", [header_cell("#"), rx.foreach(models, header_cell)], _rows(), size=None))
    assert "size:" not in jsx
    header = jsx[jsx.index("RadixThemesTable.Header") : jsx.index("RadixThemesTable.Body")]
    assert header.count("RadixThemesTable.ColumnHeaderCell") == 2  # "#" and the mapped one
    assert "Array.prototype.map.call" in header
