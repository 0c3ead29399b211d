"""Batches: a prompt template run over a table of values across models, with its results grid."""

from __future__ import annotations

import reflex as rx

from components.batch import BatchProps, batch_view
from components.i18n import t
from dashboard.pages.frame import signed_in_page
from state.batch_state import BatchState as B

# The chosen file's text, read in the browser (the CSV goes where pasted text goes).
READ_CHOSEN_FILE = "document.getElementById('batch-csv-file')?.files?.[0]?.text() ?? ''"


def batches_page() -> rx.Component:
    props = BatchProps(
        projects=B.projects,
        project_id=B.project_id,
        can_run=B.can_run,
        models=B.models,
        chosen=B.chosen,
        templates=B.templates,
        template_id=B.template_id,
        template_version=B.template_version,
        name=B.name,
        prompt=B.prompt,
        variables=B.variables,
        csv_text=B.csv_text,
        assertion_kind=B.assertion_kind,
        assertion_value=B.assertion_value,
        assertions=B.assertions,
        prompt_error=B.prompt_error,
        table_error=B.table_error,
        models_error=B.models_error,
        assertions_error=B.assertions_error,
        run_error=B.run_error,
        notice=B.notice,
        batches=B.batches,
        selected_id=B.selected_id,
        status=B.status,
        running=B.running,
        note=B.note,
        progress=B.progress,
        progress_pct=B.progress_pct,
        grid_models=B.grid_models,
        grid=B.grid,
        summary=B.summary,
        page_text=B.page_text,
        has_prev=B.has_prev,
        has_next=B.has_next,
        on_project=B.set_project,
        on_template=B.pick_template,
        on_name=B.set_name,
        on_prompt=B.set_prompt,
        on_csv=B.set_csv_text,
        on_file=rx.call_script(READ_CHOSEN_FILE, callback=B.set_csv_text),
        on_toggle_model=B.toggle_model,
        on_assertion_kind=B.set_assertion_kind,
        on_assertion_value=B.set_assertion_value,
        on_add_assertion=B.add_assertion,
        on_remove_assertion=B.remove_assertion,
        on_save_template=B.save_template,
        on_run=B.run,
        on_select=B.select,
        on_cancel=B.cancel,
        on_prev=B.turn_page(-1),
        on_next=B.turn_page(1),
        on_export_csv=B.export("csv"),
        on_export_jsonl=B.export("jsonl"),
    )
    return signed_in_page(batch_view(props), title=t("Batches"))
