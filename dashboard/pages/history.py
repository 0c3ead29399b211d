"""History of saved comparisons."""

from __future__ import annotations

import reflex as rx

from components.history_table import history_table, project_filter
from components.i18n import t
from dashboard.pages.frame import signed_in_page
from state.history import HistoryState as H


def history_page() -> rx.Component:
    return signed_in_page(
        project_filter(H.projects, H.project_id, H.set_project),
        history_table(
            H.rows,
            t("Page {page} of {pages} · {total} comparisons", page=H.page, pages=H.page_count, total=H.total),
            H.has_prev,
            H.has_next,
            H.prev_page,
            H.next_page,
        ),
        title=t("History"),
    )
