"""Prompt templates, datasets and batch runs (issue 19): the one service behind the page and
the HTTP API.

A batch is checked whole before it is saved: the template's variables against the table's
columns, every rendered row as a comparison of the chosen models would be (models, context
windows, sizes), and the whole batch's most possible cost against the monthly budget. Rows are
then sent by the dispatcher (batch_dispatch.py), paced by the rate limits, through the same
queue, workers and run leases as any comparison.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError

from backend.auth.permissions import Action, Principal
from backend.batching.tables import InvalidTable, Table, parse_csv, table_of_rows
from backend.batching.variables import missing_variables, render, variables_of
from backend.db import batches as repo
from backend.db import templates as templates_repo
from backend.db.engine import Database
from backend.db.templates import DatasetRecord, TemplateRecord
from backend.db.users import default_project_id
from backend.i18n import N_, Message
from backend.limits import RateLimitExceeded
from backend.queue.base import RunQueue
from backend.queue.messages import CancelRequest
from backend.services.access import Access, NotFound
from backend.services.batch_export import BatchFormat, encode
from backend.services.batch_inputs import BatchInput, DatasetInput, TemplateInput
from backend.services.batch_results import BatchView, ModelSummary, ResultRow, progress_of, result_rows
from backend.services.budgets import BudgetGuard
from backend.services.comparisons import ComparisonService
from backend.services.validation import (
    ComparisonInput,
    InvalidComparison,
)
from backend.settings import Settings

EXPORT_PAGE_ROWS = 100


def _row_key(number: int, key: str) -> str:
    """A comparison's error key as the batch's: a pane's model is the batch's model."""
    pane_model = re.fullmatch(r"panes\.(\d+)\.model", key)
    return f"models.{pane_model.group(1)}" if pane_model else f"rows.{number}.{key}"


def _errors(exc: ValidationError, prefix: str = "") -> InvalidComparison:
    return InvalidComparison(
        {prefix + (".".join(str(p) for p in e["loc"]) or "body"): str(e["msg"]) for e in exc.errors()}
    )


class BatchService:
    def __init__(
        self,
        db: Database,
        broker: RunQueue,
        comparisons: ComparisonService,
        budget: BudgetGuard,
        settings: Settings,
    ) -> None:
        self._db = db
        self._broker = broker
        self._comparisons = comparisons
        self._budget = budget
        self._settings = settings
        self._access = Access(db)
        self.on_created: Any = None  # the dispatcher's wake-up (set by the runtime)

    # --- templates ---------------------------------------------------------
    async def save_template(
        self, principal: Principal, payload: object, lineage_id: str | None = None
    ) -> TemplateRecord:
        """A new template, or (``lineage_id``) the next version of one in the same project."""
        try:
            data = TemplateInput.model_validate(payload)
        except ValidationError as exc:
            raise _errors(exc) from exc
        await self._access.require_project(principal, Action.EDIT, data.project_id)
        if lineage_id is not None:
            async with self._db.session() as session:
                versions = await templates_repo.template_versions(session, lineage_id)
            if not versions or versions[0].project_id != data.project_id:
                raise NotFound(Message("No template {id}.", id=lineage_id))
        async with self._db.session() as session:
            return await templates_repo.save_template(
                session,
                project_id=data.project_id,
                name=data.name.strip(),
                prompt=data.prompt,
                system_prompt=data.system_prompt,
                variables=variables_of(data.system_prompt, data.prompt),
                created_by=principal.user_id,
                lineage_id=lineage_id,
            )

    async def templates(self, principal: Principal, project_id: str) -> list[TemplateRecord]:
        await self._access.require_project(principal, Action.READ, project_id)
        async with self._db.session() as session:
            return await templates_repo.latest_templates(session, project_id)

    async def template(self, principal: Principal, template_id: str) -> TemplateRecord:
        async with self._db.session() as session:
            found = await templates_repo.get_template(session, template_id)
        if found is None or await self._access.role(principal, found.project_id) is None:
            raise NotFound(Message("No template {id}.", id=template_id))
        return found

    async def template_versions(self, principal: Principal, template_id: str) -> list[TemplateRecord]:
        found = await self.template(principal, template_id)
        async with self._db.session() as session:
            return await templates_repo.template_versions(session, found.lineage_id)

    async def delete_template(self, principal: Principal, template_id: str) -> None:
        found = await self.template(principal, template_id)
        await self._access.require_project(principal, Action.EDIT, found.project_id)
        async with self._db.session() as session:
            await templates_repo.delete_template(session, found.lineage_id)

    # --- datasets ----------------------------------------------------------
    async def save_dataset(self, principal: Principal, payload: object) -> DatasetRecord:
        try:
            data = DatasetInput.model_validate(payload)
        except ValidationError as exc:
            raise _errors(exc) from exc
        await self._access.require_project(principal, Action.EDIT, data.project_id)
        try:
            table = parse_csv(data.csv)
        except InvalidTable as exc:
            raise InvalidComparison({"csv": exc.message}) from exc
        async with self._db.session() as session:
            return await templates_repo.save_dataset(
                session,
                project_id=data.project_id,
                name=data.name.strip(),
                columns=table.columns,
                rows=table.rows,
                created_by=principal.user_id,
            )

    async def datasets(self, principal: Principal, project_id: str) -> list[DatasetRecord]:
        await self._access.require_project(principal, Action.READ, project_id)
        async with self._db.session() as session:
            return await templates_repo.list_datasets(session, project_id)

    async def dataset(self, principal: Principal, dataset_id: str) -> DatasetRecord:
        async with self._db.session() as session:
            found = await templates_repo.get_dataset(session, dataset_id)
        if found is None or await self._access.role(principal, found.project_id) is None:
            raise NotFound(Message("No dataset {id}.", id=dataset_id))
        return found

    async def delete_dataset(self, principal: Principal, dataset_id: str) -> None:
        found = await self.dataset(principal, dataset_id)
        await self._access.require_project(principal, Action.EDIT, found.project_id)
        async with self._db.session() as session:
            await templates_repo.delete_dataset(session, dataset_id)

    # --- batches -----------------------------------------------------------
    async def create(self, principal: Principal, payload: object) -> BatchView:
        """Check the whole batch, save it, and wake the dispatcher; raises InvalidComparison
        (field -> message), NotFound, AccessDenied or BudgetExceeded before anything is saved."""
        try:
            data = BatchInput.model_validate(payload)
        except ValidationError as exc:
            raise _errors(exc) from exc
        project_id = data.project_id or await self._default_project(principal)
        await self._access.require_project(principal, Action.RUN, project_id)
        prompt, system_prompt, template_id = await self._template_text(principal, data, project_id)
        table = await self._table(principal, data, project_id)
        missing = missing_variables(variables_of(system_prompt, prompt), table.columns)
        if missing:
            names = ", ".join("{{" + name + "}}" for name in missing)
            raise InvalidComparison(
                {
                    "table": Message(
                        "The template uses {names}, but the table has no such column.", names=names
                    )
                }
            )
        self._check_rate_fits(data)
        inputs = await self._validated_rows(principal, data, prompt, system_prompt, table)
        await self._budget.check_many(principal, inputs, N_("This batch"))
        batch_id = await repo.create_batch(
            self._db,
            project_id=project_id,
            user_id=principal.user_id,
            template_id=template_id,
            name=data.name.strip(),
            prompt=prompt,
            system_prompt=system_prompt,
            models=list(data.models),
            params={"temperature": data.temperature, "max_tokens": data.max_tokens},
            assertions=[a.model_dump() for a in data.assertions],
            rows=table.rows,
        )
        if self.on_created is not None:
            self.on_created()
        return await self.get(principal, batch_id)

    async def _default_project(self, principal: Principal) -> str:
        async with self._db.session() as session:
            return await default_project_id(session, principal.user_id)

    async def _template_text(
        self, principal: Principal, data: BatchInput, project_id: str
    ) -> tuple[str, str, str | None]:
        if data.template_id:
            template = await self.template(principal, data.template_id)
            if template.project_id != project_id:
                raise InvalidComparison({"template_id": "The template belongs to another project."})
            return template.prompt, template.system_prompt, template.id
        if not data.prompt.strip():
            raise InvalidComparison({"prompt": "Pick a template or enter a prompt."})
        return data.prompt, data.system_prompt, None

    async def _table(self, principal: Principal, data: BatchInput, project_id: str) -> Table:
        try:
            if data.dataset_id:
                dataset = await self.dataset(principal, data.dataset_id)
                if dataset.project_id != project_id:
                    raise InvalidComparison({"dataset_id": "The dataset belongs to another project."})
                return table_of_rows(dataset.columns, dataset.rows)
            if data.csv is not None:
                return parse_csv(data.csv)
            if data.rows is not None:
                columns = data.columns or list(dict.fromkeys(k for row in data.rows for k in row))
                return table_of_rows(columns, data.rows)
        except InvalidTable as exc:
            raise InvalidComparison({"table": exc.message}) from exc
        raise InvalidComparison({"table": "Give the table: a dataset, CSV text, or rows."})

    def _check_rate_fits(self, data: BatchInput) -> None:
        per_minute = self._settings.rate_limit_requests_per_minute
        if per_minute and len(data.models) > per_minute:
            raise InvalidComparison(
                {
                    "models": Message(
                        "Each row needs {n} model requests, more than the {limit} a minute allowed.",
                        n=len(data.models),
                        limit=per_minute,
                    )
                }
            )

    async def _validated_rows(
        self, principal: Principal, data: BatchInput, prompt: str, system_prompt: str, table: Table
    ) -> list[ComparisonInput]:
        """Each row as the comparison it becomes, checked as one would be; errors name the row
        ("rows.3.prompt", 1-based) or the model ("models.0")."""
        panes = [
            {"model": m, "temperature": data.temperature, "max_tokens": data.max_tokens} for m in data.models
        ]
        inputs: list[ComparisonInput] = []
        for number, values in enumerate(table.rows, start=1):
            payload = {
                "prompt": render(prompt, values),
                "system_prompt": render(system_prompt, values),
                "panes": panes,
            }
            try:
                inputs.append(await self._comparisons.validate(payload, principal))
            except InvalidComparison as exc:
                raise InvalidComparison({_row_key(number, k): v for k, v in exc.errors.items()}) from exc
        return inputs

    async def _readable(
        self, principal: Principal, batch_id: str, action: Action = Action.READ
    ) -> repo.BatchRecord:
        async with self._db.session() as session:
            batch = await repo.get_batch(session, batch_id)
        if batch is None or await self._access.role(principal, batch.project_id) is None:
            raise NotFound(Message("No batch {id}.", id=batch_id))
        await self._access.require_project(principal, action, batch.project_id)
        return batch

    async def get(self, principal: Principal, batch_id: str) -> BatchView:
        batch = await self._readable(principal, batch_id)
        return await self._view(batch)

    async def _view(self, batch: repo.BatchRecord) -> BatchView:
        async with self._db.session() as session:
            counts, unsent = await repo.cell_counts(session, batch.id)
        return BatchView(batch, progress_of(batch, counts, unsent))

    async def batches(self, principal: Principal, project_id: str) -> list[BatchView]:
        await self._access.require_project(principal, Action.READ, project_id)
        async with self._db.session() as session:
            batches = await repo.list_batches(session, project_id)
        return [await self._view(b) for b in batches]

    async def results(
        self, principal: Principal, batch_id: str, offset: int = 0, limit: int = 50
    ) -> tuple[BatchView, list[ResultRow]]:
        batch = await self._readable(principal, batch_id)
        async with self._db.session() as session:
            rows = await repo.grid(session, batch_id, max(offset, 0), min(max(limit, 1), 200))
        return await self._view(batch), result_rows(batch, rows)

    async def summary(self, principal: Principal, batch_id: str) -> list[ModelSummary]:
        """Per model over the whole batch: finished cells, passed, failed, mean latency, cost."""
        batch = await self._readable(principal, batch_id)
        rows: list[ResultRow] = []
        async with self._db.session() as session:
            for offset in range(0, batch.total_rows, 200):
                rows += result_rows(batch, await repo.grid(session, batch_id, offset, 200))
        out: list[ModelSummary] = []
        for position, model in enumerate(batch.models):
            cells = [r.cells[position] for r in rows if r.cells[position].failed is not None]
            times = [c.cell.total_ms for c in cells if c.cell and c.cell.total_ms is not None]
            out.append(
                ModelSummary(
                    model=model,
                    finished=len(cells),
                    passed=sum(1 for c in cells if not c.failed),
                    failed=sum(1 for c in cells if c.failed),
                    mean_total_ms=sum(times) / len(times) if times else None,
                    cost_usd=sum(c.cell.cost_usd for c in cells if c.cell),
                )
            )
        return out

    async def export(self, principal: Principal, batch_id: str, format: BatchFormat) -> AsyncIterator[bytes]:
        """The batch's cells as CSV or JSON Lines, read and encoded a page of rows at a time."""
        batch = await self._readable(principal, batch_id)
        variables = list(dict.fromkeys(k for row in await self._first_rows(batch.id) for k in row.variables))

        async def pages() -> AsyncIterator[list[ResultRow]]:
            for offset in range(0, batch.total_rows, EXPORT_PAGE_ROWS):
                async with self._db.session() as session:
                    rows = await repo.grid(session, batch.id, offset, EXPORT_PAGE_ROWS)
                yield result_rows(batch, rows)

        return encode(batch.models, variables, pages(), format)

    async def _first_rows(self, batch_id: str) -> list[repo.GridRow]:
        async with self._db.session() as session:
            return await repo.grid(session, batch_id, 0, 1)

    async def cancel(self, principal: Principal, batch_id: str) -> BatchView:
        """No more rows are sent; the rows' runs still queued or running are stopped."""
        await self._readable(principal, batch_id, Action.RUN)
        async with self._db.session() as session:
            await repo.set_status(session, batch_id, "cancelled", note="Cancelled.")
        await self.stop_runs(batch_id)
        return await self.get(principal, batch_id)

    async def stop_runs(self, batch_id: str) -> None:
        async with self._db.session() as session:
            active = await repo.active_runs(session, batch_id)
        for run_id, attempt in active:
            await self._broker.request_cancel(CancelRequest(run_id=run_id, attempt=attempt))

    async def delete(self, principal: Principal, batch_id: str) -> None:
        """Stops it, then deletes it with its rows' comparisons and runs."""
        batch = await self._readable(principal, batch_id, Action.EDIT)
        async with self._db.session() as session:
            await repo.set_status(session, batch_id, "cancelled")
        await self.stop_runs(batch_id)
        async with self._db.session() as session:
            comparisons = await repo.row_comparisons(session, batch_id)
        for comparison_id in comparisons:
            await self._comparisons.delete(principal, comparison_id)
        async with self._db.session() as session:
            await repo.delete_batch(session, batch.id)


__all__ = ["BatchService", "RateLimitExceeded"]
