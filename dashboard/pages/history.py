"""History of saved comparisons."""

from __future__ import annotations

import reflex as rx

from components.history_table import history_table, project_filter
from components.i18n import t, t_var
from components.layout import field_error
from components.search_box import search_form, search_results
from dashboard.pages.frame import signed_in_page
from state.deletion import DeleteComparisonState as D
from state.history import HistoryState as H
from state.search import SearchState as S


def history_page() -> rx.Component:
    return signed_in_page(
        search_form(S.projects, S.models, S.search, S.clear),
        search_results(S.results, S.note, S.error, S.empty_message),
        project_filter(H.projects, H.project_id, H.set_project),
        history_table(
            H.rows,
            t("Page {page} of {pages} · {total} comparisons", page=H.page, pages=H.page_count, total=H.total),
            H.has_prev,
            H.has_next,
            H.prev_page,
            H.next_page,
            D.delete_listed,
        ),
        field_error(t_var(D.error), "delete-error"),
        title=t("History"),
    )
