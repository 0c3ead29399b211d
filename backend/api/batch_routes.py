"""Prompt templates, datasets and batch runs over HTTP (issue 19).

Any member of the project reads them; saving or deleting a template or a dataset and deleting
a batch need the right to change the project's comparisons (editor, owner); starting and
cancelling a batch the right to run (a viewer gets 403); anyone else gets 404. Bad input
answers 422 in the app's errors shape (field -> message), a batch over the monthly budget 429.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from backend.api.auth import User
from backend.api.schemas import ErrorOut, RateLimitOut
from backend.db.templates import DatasetRecord, TemplateRecord
from backend.runtime import Runtime
from backend.services.batch_inputs import BatchInput, DatasetInput, TemplateInput
from backend.services.batch_results import BatchView, ResultRow
from backend.services.batches import BatchService
from backend.services.export import MEDIA_TYPES

API_PREFIX = "/api/v1"
REFUSALS: dict[int | str, dict[str, object]] = {
    403: {"description": "A member whose role does not allow it"},
    404: {"description": "Not a member, or no such id"},
    422: {"model": ErrorOut},
}


class TemplateOut(BaseModel):
    id: str
    project_id: str
    lineage_id: str
    version: int
    name: str
    prompt: str
    system_prompt: str
    variables: list[str]
    created_at: datetime

    @classmethod
    def of(cls, t: TemplateRecord) -> TemplateOut:
        return cls.model_validate(t, from_attributes=True)


class DatasetOut(BaseModel):
    id: str
    project_id: str
    name: str
    columns: list[str]
    row_count: int
    created_at: datetime
    rows: list[dict[str, str]] | None = None

    @classmethod
    def of(cls, d: DatasetRecord, with_rows: bool = False) -> DatasetOut:
        return cls(
            id=d.id,
            project_id=d.project_id,
            name=d.name,
            columns=d.columns,
            row_count=len(d.rows),
            created_at=d.created_at,
            rows=d.rows if with_rows else None,
        )


class ProgressOut(BaseModel):
    cells: int
    done: int
    error: int
    cancelled: int
    active: int
    unsent: int
    finished: int


class BatchOut(BaseModel):
    id: str
    project_id: str
    name: str
    template_id: str | None
    prompt: str
    system_prompt: str
    models: list[str]
    params: dict[str, Any]
    assertions: list[dict[str, Any]]
    status: str
    note: str
    total_rows: int
    created_at: datetime
    finished_at: datetime | None
    progress: ProgressOut

    @classmethod
    def of(cls, view: BatchView) -> BatchOut:
        b, p = view.batch, view.progress
        return cls(
            **{name: getattr(b, name) for name in cls.model_fields if name != "progress"},
            progress=ProgressOut(
                cells=p.cells,
                done=p.done,
                error=p.error,
                cancelled=p.cancelled,
                active=p.active,
                unsent=p.unsent,
                finished=p.finished,
            ),
        )


class CellOut(BaseModel):
    model: str
    status: str  # queued | running | done | error | cancelled, or "not sent"
    run_id: str | None
    output_text: str
    error: str
    ttft_ms: float | None
    total_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    passed: bool | None
    failed_assertions: list[str]


class ResultRowOut(BaseModel):
    row: int  # 1-based
    variables: dict[str, Any]
    cells: list[CellOut]


class ResultsOut(BaseModel):
    batch: BatchOut
    offset: int
    rows: list[ResultRowOut]


class ModelSummaryOut(BaseModel):
    model: str
    finished: int
    passed: int
    failed: int
    mean_total_ms: float | None
    cost_usd: float


def _row(models: list[str], row: ResultRow) -> ResultRowOut:
    cells: list[CellOut] = []
    for model, view in zip(models, row.cells, strict=True):
        c = view.cell
        cells.append(
            CellOut(
                model=model,
                status="not sent" if c is None else c.status,
                run_id=None if c is None else c.run_id,
                output_text="" if c is None else c.output_text,
                error="" if c is None else c.error,
                ttft_ms=None if c is None else c.ttft_ms,
                total_ms=None if c is None else c.total_ms,
                input_tokens=0 if c is None else c.input_tokens,
                output_tokens=0 if c is None else c.output_tokens,
                cost_usd=0.0 if c is None else c.cost_usd,
                passed=None if view.failed is None else not view.failed,
                failed_assertions=view.failed or [],
            )
        )
    return ResultRowOut(row=row.row_index + 1, variables=row.variables, cells=cells)


def _created(body: BaseModel) -> Response:
    return Response(content=body.model_dump_json(), status_code=201, media_type="application/json")


def batch_router(get_runtime: Callable[[], Runtime]) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, responses=REFUSALS)

    def service() -> BatchService:
        return get_runtime().batches

    # --- templates ---------------------------------------------------------
    @router.post("/templates", response_model=TemplateOut, status_code=201, tags=["templates"])
    async def create_template(user: User, body: TemplateInput) -> Response:
        """A new prompt template (version 1); `{{name}}` marks a variable."""
        return _created(TemplateOut.of(await service().save_template(user, body.model_dump())))

    @router.post(
        "/templates/{template_id}/versions", response_model=TemplateOut, status_code=201, tags=["templates"]
    )
    async def add_template_version(user: User, template_id: str, body: TemplateInput) -> Response:
        """The template's next version (the project must be the template's)."""
        found = await service().template(user, template_id)
        saved = await service().save_template(user, body.model_dump(), lineage_id=found.lineage_id)
        return _created(TemplateOut.of(saved))

    @router.get("/projects/{project_id}/templates", response_model=list[TemplateOut], tags=["templates"])
    async def list_templates(user: User, project_id: str) -> list[TemplateOut]:
        """The newest version of each template of the project."""
        return [TemplateOut.of(t) for t in await service().templates(user, project_id)]

    @router.get("/templates/{template_id}", response_model=TemplateOut, tags=["templates"])
    async def get_template(user: User, template_id: str) -> TemplateOut:
        return TemplateOut.of(await service().template(user, template_id))

    @router.get("/templates/{template_id}/versions", response_model=list[TemplateOut], tags=["templates"])
    async def template_versions(user: User, template_id: str) -> list[TemplateOut]:
        """Every version of the template, oldest first."""
        return [TemplateOut.of(t) for t in await service().template_versions(user, template_id)]

    @router.delete("/templates/{template_id}", status_code=204, tags=["templates"])
    async def delete_template(user: User, template_id: str) -> None:
        """Every version of the template (batches keep the text they ran)."""
        await service().delete_template(user, template_id)

    # --- datasets ----------------------------------------------------------
    @router.post("/datasets", response_model=DatasetOut, status_code=201, tags=["datasets"])
    async def create_dataset(user: User, body: DatasetInput) -> Response:
        """A table of variable values from CSV (header line, then up to 1,000 rows)."""
        return _created(DatasetOut.of(await service().save_dataset(user, body.model_dump())))

    @router.get("/projects/{project_id}/datasets", response_model=list[DatasetOut], tags=["datasets"])
    async def list_datasets(user: User, project_id: str) -> list[DatasetOut]:
        return [DatasetOut.of(d) for d in await service().datasets(user, project_id)]

    @router.get("/datasets/{dataset_id}", response_model=DatasetOut, tags=["datasets"])
    async def get_dataset(user: User, dataset_id: str) -> DatasetOut:
        """The dataset with its rows."""
        return DatasetOut.of(await service().dataset(user, dataset_id), with_rows=True)

    @router.delete("/datasets/{dataset_id}", status_code=204, tags=["datasets"])
    async def delete_dataset(user: User, dataset_id: str) -> None:
        await service().delete_dataset(user, dataset_id)

    # --- batches -----------------------------------------------------------
    @router.post(
        "/batches",
        response_model=BatchOut,
        status_code=201,
        tags=["batches"],
        responses={429: {"model": RateLimitOut}},
    )
    async def create_batch(user: User, body: BatchInput) -> Response:
        """Run a template over a table across models: one row = one prompt, one cell per model.
        Checked whole before anything is saved; rows are then sent through the queue as the
        rate limits allow (`note` says when it waits), each answer checked by the assertions."""
        return _created(BatchOut.of(await service().create(user, body.model_dump())))

    @router.get("/projects/{project_id}/batches", response_model=list[BatchOut], tags=["batches"])
    async def list_batches(user: User, project_id: str) -> list[BatchOut]:
        """The project's latest batches with their progress, newest first."""
        return [BatchOut.of(v) for v in await service().batches(user, project_id)]

    @router.get("/batches/{batch_id}", response_model=BatchOut, tags=["batches"])
    async def get_batch(user: User, batch_id: str) -> BatchOut:
        return BatchOut.of(await service().get(user, batch_id))

    @router.get("/batches/{batch_id}/results", response_model=ResultsOut, tags=["batches"])
    async def batch_results(
        user: User,
        batch_id: str,
        offset: int = Query(default=0, ge=0),
        limit: int = Query(default=50, ge=1, le=200),
    ) -> ResultsOut:
        """The results grid, a page of rows: per cell its answer, metrics and assertion verdict."""
        view, rows = await service().results(user, batch_id, offset, limit)
        return ResultsOut(
            batch=BatchOut.of(view), offset=offset, rows=[_row(view.batch.models, r) for r in rows]
        )

    @router.get("/batches/{batch_id}/summary", response_model=list[ModelSummaryOut], tags=["batches"])
    async def batch_summary(user: User, batch_id: str) -> list[ModelSummaryOut]:
        """Per model over the whole batch: finished cells, passed, failed, mean latency, cost."""
        return [
            ModelSummaryOut.model_validate(s, from_attributes=True)
            for s in await service().summary(user, batch_id)
        ]

    @router.get(
        "/batches/{batch_id}/export",
        tags=["batches"],
        responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
    )
    async def export_batch(
        user: User, batch_id: str, format: Literal["csv", "jsonl"] = "csv"
    ) -> StreamingResponse:
        """One line per cell (row x model): the row's variables, the answer, metrics, verdict."""
        body = await service().export(user, batch_id, format)
        return StreamingResponse(
            body,
            media_type=MEDIA_TYPES[format],
            headers={"Content-Disposition": f'attachment; filename="batch-{batch_id}.{format}"'},
        )

    @router.post("/batches/{batch_id}/cancel", response_model=BatchOut, tags=["batches"])
    async def cancel_batch(user: User, batch_id: str) -> BatchOut:
        """Send no more rows and stop the runs still queued or running."""
        return BatchOut.of(await service().cancel(user, batch_id))

    @router.delete("/batches/{batch_id}", status_code=204, tags=["batches"])
    async def delete_batch(user: User, batch_id: str) -> None:
        """Stop it, then delete it with its rows' comparisons."""
        await service().delete(user, batch_id)

    return router
