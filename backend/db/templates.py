"""Prompt templates (versioned like prompt versions: a lineage of numbered versions) and saved
datasets of a project; async functions over an AsyncSession returning frozen records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Dataset, PromptTemplate, new_id, utcnow


@dataclass(frozen=True, slots=True)
class TemplateRecord:
    id: str
    project_id: str
    lineage_id: str
    version: int
    name: str
    prompt: str
    system_prompt: str
    variables: list[str]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    id: str
    project_id: str
    name: str
    columns: list[str]
    rows: list[dict[str, str]]
    created_at: datetime


def _template(t: PromptTemplate) -> TemplateRecord:
    return TemplateRecord(
        id=t.id,
        project_id=t.project_id,
        lineage_id=t.lineage_id,
        version=t.version,
        name=t.name,
        prompt=t.prompt,
        system_prompt=t.system_prompt,
        variables=list(t.variables),
        created_at=t.created_at,
    )


def _dataset(d: Dataset) -> DatasetRecord:
    return DatasetRecord(
        id=d.id,
        project_id=d.project_id,
        name=d.name,
        columns=list(d.columns),
        rows=[dict(r) for r in d.rows],
        created_at=d.created_at,
    )


async def save_template(
    session: AsyncSession,
    *,
    project_id: str,
    name: str,
    prompt: str,
    system_prompt: str,
    variables: list[str],
    created_by: str,
    lineage_id: str | None = None,
) -> TemplateRecord:
    """A new template (version 1), or with ``lineage_id`` the next version of that one."""
    template_id = new_id()
    if lineage_id is None:
        lineage_id, version = template_id, 1
    else:
        latest = (
            await session.execute(
                select(func.max(PromptTemplate.version)).where(PromptTemplate.lineage_id == lineage_id)
            )
        ).scalar_one()
        version = int(latest or 0) + 1
    row = PromptTemplate(
        id=template_id,
        project_id=project_id,
        lineage_id=lineage_id,
        version=version,
        name=name,
        prompt=prompt,
        system_prompt=system_prompt,
        variables=variables,
        created_by=created_by,
        created_at=utcnow(),
    )
    await _save(session, row)
    return _template(row)


async def _save(session: AsyncSession, row: PromptTemplate | Dataset) -> None:
    """Add and commit `row`; on any failure the session is rolled back (nothing half-saved)."""
    session.add(row)
    try:
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


async def get_template(session: AsyncSession, template_id: str) -> TemplateRecord | None:
    found = await session.get(PromptTemplate, template_id)
    return None if found is None else _template(found)


async def latest_templates(session: AsyncSession, project_id: str) -> list[TemplateRecord]:
    """The newest version of each template in the project, newest first."""
    newest = (
        select(PromptTemplate.lineage_id, func.max(PromptTemplate.version).label("version"))
        .where(PromptTemplate.project_id == project_id)
        .group_by(PromptTemplate.lineage_id)
        .subquery()
    )
    stmt = (
        select(PromptTemplate)
        .join(
            newest,
            (newest.c.lineage_id == PromptTemplate.lineage_id) & (newest.c.version == PromptTemplate.version),
        )
        .order_by(PromptTemplate.created_at.desc(), PromptTemplate.id)
    )
    return [_template(t) for t in (await session.execute(stmt)).scalars()]


async def template_versions(session: AsyncSession, lineage_id: str) -> list[TemplateRecord]:
    stmt = (
        select(PromptTemplate).where(PromptTemplate.lineage_id == lineage_id).order_by(PromptTemplate.version)
    )
    return [_template(t) for t in (await session.execute(stmt)).scalars()]


async def delete_template(session: AsyncSession, lineage_id: str) -> None:
    """Every version; batches that ran it keep their own copy of the text."""
    await session.execute(delete(PromptTemplate).where(PromptTemplate.lineage_id == lineage_id))
    await session.commit()


async def save_dataset(
    session: AsyncSession,
    *,
    project_id: str,
    name: str,
    columns: list[str],
    rows: list[dict[str, str]],
    created_by: str,
) -> DatasetRecord:
    row = Dataset(
        id=new_id(),
        project_id=project_id,
        name=name,
        columns=columns,
        rows=rows,
        created_by=created_by,
        created_at=utcnow(),
    )
    await _save(session, row)
    return _dataset(row)


async def get_dataset(session: AsyncSession, dataset_id: str) -> DatasetRecord | None:
    found = await session.get(Dataset, dataset_id)
    return None if found is None else _dataset(found)


async def list_datasets(session: AsyncSession, project_id: str) -> list[DatasetRecord]:
    stmt = (
        select(Dataset)
        .where(Dataset.project_id == project_id)
        .order_by(Dataset.created_at.desc(), Dataset.id)
    )
    return [_dataset(d) for d in (await session.execute(stmt)).scalars()]


async def delete_dataset(session: AsyncSession, dataset_id: str) -> None:
    await session.execute(delete(Dataset).where(Dataset.id == dataset_id))
    await session.commit()
