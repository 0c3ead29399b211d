"""History of saved comparisons."""

from __future__ import annotations

import reflex as rx

from components.history_table import history_table, project_filter
from dashboard.pages.frame import signed_in_page
from state.history import HistoryState as H


def history_page() -> rx.Component:
    return signed_in_page(
        project_filter(H.projects, H.project_id, H.set_project),
        history_table(H.rows, H.page_label, H.has_prev, H.has_next, H.prev_page, H.next_page),
        title="History",
    )
