"""History of saved comparisons."""

from __future__ import annotations

import reflex as rx

from components.history_table import history_table
from components.layout import shell
from state.history import HistoryState as H


def history_page() -> rx.Component:
    return shell(
        history_table(H.rows, H.page_label, H.has_prev, H.has_next, H.prev_page, H.next_page),
        title="History",
    )
