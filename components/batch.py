"""The batches page: the template and table form, the batch list, and the selected batch's
progress, per-model summary and results grid (rows x models)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventCallback

from components.i18n import said, t, t_var
from components.layout import field_error
from components.table import data_table, header_cell

ASSERTION_LABELS = {
    "contains": t("contains"),
    "regex": t("matches regex"),
    "json_valid": t("is valid JSON"),
    "max_latency_ms": t("latency at most (ms)"),
    "max_cost_usd": t("cost at most (USD)"),
}


@dataclass(frozen=True)
class BatchProps:
    projects: rx.Var
    project_id: rx.Var[str]
    can_run: rx.Var[bool]
    models: rx.Var
    chosen: Any  # an array Var of model ids
    templates: rx.Var
    template_id: rx.Var[str]
    template_version: rx.Var[str]
    name: rx.Var[str]
    prompt: rx.Var[str]
    variables: rx.Var[str]
    csv_text: rx.Var[str]
    assertion_kind: rx.Var[str]
    assertion_value: rx.Var[str]
    assertions: rx.Var
    prompt_error: rx.Var[str]
    table_error: rx.Var[str]
    models_error: rx.Var[str]
    assertions_error: rx.Var[str]
    run_error: rx.Var[str]
    notice: rx.Var[str]
    batches: rx.Var
    selected_id: rx.Var[str]
    status: rx.Var[str]
    running: rx.Var[bool]
    note: rx.Var[str]
    progress: rx.Var[str]
    progress_pct: rx.Var[int]
    grid_models: Any  # an array Var of model ids
    grid: rx.Var
    summary: rx.Var
    page_text: rx.Var[str]
    has_prev: rx.Var[bool]
    has_next: rx.Var[bool]
    on_project: EventCallback[str]
    on_template: EventCallback[str]
    on_name: EventCallback[str]
    on_prompt: EventCallback[str]
    on_csv: EventCallback[str]
    on_file: Any  # reads the chosen file in the browser, then sets the CSV text
    on_toggle_model: EventCallback[str, bool]
    on_assertion_kind: EventCallback[str]
    on_assertion_value: EventCallback[str]
    on_add_assertion: EventCallback[()]
    on_remove_assertion: EventCallback[int]
    on_save_template: EventCallback[()]
    on_run: EventCallback[()]
    on_select: EventCallback[str]
    on_cancel: EventCallback[()]
    on_prev: Any
    on_next: Any
    on_export_csv: Any
    on_export_jsonl: Any


def _error(p: BatchProps, field: str) -> rx.Component:
    return field_error(t_var(getattr(p, f"{field}_error")), f"batch-error-{field}")


def _template_section(p: BatchProps) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.el.select(
                rx.el.option(t("New template"), value=""),
                rx.foreach(p.templates, lambda c: rx.el.option(c.label, value=c.id)),
                value=p.template_id,
                on_change=p.on_template,
                aria_label=t("Saved template"),
                class_name="model-picker",
            ),
            rx.input(
                value=p.name,
                on_change=p.on_name,
                placeholder=t("Template name"),
                aria_label=t("Template name"),
                max_length=200,
            ),
            rx.button(t("Save template"), on_click=p.on_save_template, variant="soft", disabled=~p.can_run),
            rx.cond(p.template_version != "", rx.text(t("version {v}", v=p.template_version), size="1")),
            align="center",
            wrap="wrap",
            spacing="2",
        ),
        rx.text_area(
            value=p.prompt,
            on_change=p.on_prompt,
            placeholder=t(
                "Write the prompt; {{name}} marks a variable filled from the table's column 'name'."
            ),
            aria_label=t("Template"),
            rows="4",
            width="100%",
        ),
        rx.text(t("Variables: {names}", names=p.variables), size="1", color_scheme="gray"),
        _error(p, "prompt"),
        width="100%",
        spacing="2",
    )


def _table_section(p: BatchProps) -> rx.Component:
    return rx.vstack(
        rx.text_area(
            value=p.csv_text,
            on_change=p.on_csv,
            placeholder=t(
                "Paste CSV: a header line with the variable names, then one line per row (up to 1,000)."
            ),
            aria_label=t("Values (CSV)"),
            rows="5",
            width="100%",
            font_family="monospace",
        ),
        rx.el.label(
            t("Upload CSV"),
            " ",
            rx.el.input(type="file", accept=".csv,text/csv", id="batch-csv-file", on_change=p.on_file),
            class_name="switch-label",
        ),
        _error(p, "table"),
        width="100%",
        spacing="2",
    )


def _models_section(p: BatchProps) -> rx.Component:
    return rx.vstack(
        rx.text(t("Models"), weight="medium", size="2"),
        rx.flex(
            rx.foreach(
                p.models,
                lambda m: rx.el.label(
                    rx.checkbox(
                        checked=p.chosen.contains(m.id),
                        on_change=lambda on: p.on_toggle_model(m.id, on),
                        aria_label=m.label,  # axe's button-name does not count the wrapping label
                    ),
                    " ",
                    m.label,
                    class_name="switch-label",
                ),
            ),
            wrap="wrap",
            gap="3",
        ),
        _error(p, "models"),
        spacing="2",
        width="100%",
    )


def _assertions_section(p: BatchProps) -> rx.Component:
    return rx.vstack(
        rx.text(t("Assertions"), weight="medium", size="2"),
        rx.hstack(
            rx.el.select(
                *[rx.el.option(label, value=kind) for kind, label in ASSERTION_LABELS.items()],
                value=p.assertion_kind,
                on_change=p.on_assertion_kind,
                aria_label=t("Assertion kind"),
                class_name="model-picker",
            ),
            rx.input(
                value=p.assertion_value,
                on_change=p.on_assertion_value,
                placeholder=t("Value (may use {{variables}})"),
                aria_label=t("Assertion value"),
                disabled=p.assertion_kind == "json_valid",
            ),
            rx.button(t("Add assertion"), on_click=p.on_add_assertion, variant="soft"),
            wrap="wrap",
            align="center",
        ),
        rx.flex(
            rx.foreach(
                p.assertions,
                lambda a, i: rx.badge(
                    a.label,
                    rx.icon_button(
                        rx.icon("x", size=12),
                        on_click=p.on_remove_assertion(i),
                        size="1",
                        variant="ghost",
                        aria_label=t("Remove assertion {label}", label=a.label),
                    ),
                    variant="soft",
                ),
            ),
            wrap="wrap",
            gap="2",
        ),
        _error(p, "assertions"),
        spacing="2",
        width="100%",
    )


def batch_form(p: BatchProps) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.el.select(
                    rx.foreach(p.projects, lambda c: rx.el.option(c.label, value=c.id)),
                    value=p.project_id,
                    on_change=p.on_project,
                    aria_label=t("Project"),
                    class_name="model-picker",
                ),
                align="center",
            ),
            _template_section(p),
            _table_section(p),
            _models_section(p),
            _assertions_section(p),
            rx.hstack(
                rx.button(t("Run batch"), on_click=p.on_run, disabled=~p.can_run),
                rx.cond(~p.can_run, rx.text(t("Viewers cannot run batches."), size="1")),
                rx.cond(p.notice != "", rx.text(t_var(p.notice), size="2", role="status")),
                align="center",
            ),
            _error(p, "run"),
            spacing="4",
            width="100%",
        ),
        width="100%",
    )


def batch_list(p: BatchProps) -> rx.Component:
    return rx.vstack(
        rx.heading(t("Recent batches"), size="4", as_="h2"),
        rx.foreach(
            p.batches,
            lambda b: rx.button(
                rx.hstack(
                    rx.text(b.title, size="2"),
                    rx.badge(t_var(b.status), variant="soft"),
                    rx.text(b.progress, size="1"),
                    align="center",
                ),
                on_click=p.on_select(b.id),
                variant=rx.cond(b.id == p.selected_id, "soft", "ghost"),
            ),
        ),
        spacing="1",
        width="100%",
    )


def _cell(c: Any) -> rx.Component:
    return rx.table.cell(
        rx.vstack(
            rx.hstack(
                rx.badge(t_var(c.status), variant="soft"),
                rx.cond(c.verdict == "pass", rx.badge(t("pass"), color_scheme="green", high_contrast=True)),
                rx.cond(
                    c.verdict == "fail",
                    rx.badge(t("fail"), color_scheme="red", high_contrast=True, title=c.failed),
                ),
                spacing="1",
            ),
            rx.text(said(c.text), size="1", white_space="pre-wrap"),
            rx.text(c.metrics, size="1", color_scheme="gray"),
            spacing="1",
        ),
        vertical_align="top",
        min_width="200px",
    )


def results(p: BatchProps) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading(t("Results"), size="4", as_="h2"),
            rx.badge(t_var(p.status), variant="soft"),
            rx.text(p.progress, size="2"),
            rx.cond(
                p.running,
                rx.button(t("Cancel batch"), on_click=p.on_cancel, color_scheme="red", variant="soft"),
            ),
            rx.button(t("Export CSV"), on_click=p.on_export_csv, variant="soft"),
            rx.button(t("Export JSON Lines"), on_click=p.on_export_jsonl, variant="soft"),
            align="center",
            wrap="wrap",
        ),
        rx.progress(value=p.progress_pct, aria_label=t("Batch progress"), width="100%"),
        rx.cond(p.note != "", rx.text(t_var(p.note), size="2", role="status")),
        rx.cond(
            p.summary.length() > 0,  # type: ignore[attr-defined]
            data_table(
                t("Per model"),
                [
                    header_cell(h)
                    for h in (
                        t("Model"),
                        t("Finished"),
                        t("Passed"),
                        t("Failed"),
                        t("Mean latency"),
                        t("Cost"),
                    )
                ],
                rx.foreach(
                    p.summary,
                    lambda s: rx.table.row(
                        rx.table.cell(s.model),
                        rx.table.cell(s.finished),
                        rx.table.cell(s.passed),
                        rx.table.cell(s.failed),
                        rx.table.cell(s.mean_latency),
                        rx.table.cell(s.cost),
                    ),
                ),
            ),
        ),
        data_table(
            t("Results grid"),
            [header_cell("#"), header_cell(t("Values")), rx.foreach(p.grid_models, header_cell)],
            rx.foreach(
                p.grid,
                lambda r: rx.table.row(
                    rx.table.row_header_cell(r.number),
                    rx.table.cell(rx.text(r.variables, size="1")),
                    rx.foreach(r.cells, _cell),
                ),
            ),
        ),
        rx.hstack(
            rx.button(t("Previous rows"), on_click=p.on_prev, disabled=~p.has_prev, variant="soft"),
            rx.text(p.page_text, size="2"),
            rx.button(t("Next rows"), on_click=p.on_next, disabled=~p.has_next, variant="soft"),
            align="center",
        ),
        width="100%",
        spacing="3",
    )


def batch_view(p: BatchProps) -> rx.Component:
    return rx.vstack(
        batch_form(p),
        batch_list(p),
        rx.cond(p.selected_id != "", results(p)),
        width="100%",
        spacing="5",
    )
