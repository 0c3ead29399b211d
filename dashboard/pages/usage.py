"""Usage: what my runs cost and how fast they were, by model over time, and this month's budget."""

from __future__ import annotations

import reflex as rx

from components.i18n import t
from components.usage import UsageProps, usage_view
from dashboard.pages.frame import signed_in_page
from state.usage import UsageState as U


def usage_page() -> rx.Component:
    props = UsageProps(
        projects=U.projects,
        is_admin=U.is_admin,
        project_id=U.project_id,
        group=U.group,
        window=U.window,
        rows=U.rows,
        chart=U.chart,
        burn=U.burn,
        has_budget=U.has_budget,
        burn_text=U.burn_text,
        total_text=U.total_text,
        loaded=U.loaded,
        empty=U.empty,
        error=U.error,
        export_error=U.export_error,
        on_project=U.set_project,
        on_group=U.set_group,
        on_window=U.set_window,
        on_export_csv=U.export("csv"),
        on_export_jsonl=U.export("jsonl"),
    )
    return signed_in_page(usage_view(props), title=t("Usage"))
