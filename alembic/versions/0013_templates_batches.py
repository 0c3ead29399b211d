"""Prompt templates, datasets and batch runs (issue 19's templates and datasets).

A template is versioned like a prompt (lineage + version); a batch runs a template over a
table of values across models, one hidden comparison per table row.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
TS = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "prompt_templates",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("lineage_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("system_prompt", sa.Text(), server_default="", nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _fk("prompt_templates", "project_id", "projects", "CASCADE"),
        _fk("prompt_templates", "created_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_templates")),
        sa.UniqueConstraint("lineage_id", "version", name=op.f("uq_prompt_templates_lineage_id_version")),
    )
    op.create_index("ix_prompt_templates_project", "prompt_templates", ["project_id"])
    op.create_table(
        "datasets",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _fk("datasets", "project_id", "projects", "CASCADE"),
        _fk("datasets", "created_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
    )
    op.create_index("ix_datasets_project", "datasets", ["project_id"])
    op.create_table(
        "batches",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("template_id", ID, nullable=True),
        sa.Column("name", sa.String(200), server_default="", nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("system_prompt", sa.Text(), server_default="", nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("assertions", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), server_default="running", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("not_before", TS, nullable=True),
        sa.Column("total_rows", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        _fk("batches", "project_id", "projects", "CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_batches_user_id_users")),
        _fk("batches", "template_id", "prompt_templates", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.create_index("ix_batches_project_created", "batches", ["project_id", sa.text("created_at DESC")])
    op.create_index("ix_batches_status", "batches", ["status"])
    op.create_table(
        "batch_rows",
        sa.Column("id", ID, nullable=False),
        sa.Column("batch_id", ID, nullable=False),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("comparison_id", ID, nullable=True),
        _fk("batch_rows", "batch_id", "batches", "CASCADE"),
        _fk("batch_rows", "comparison_id", "comparisons", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_rows")),
        sa.UniqueConstraint("batch_id", "row_index", name=op.f("uq_batch_rows_batch_id_row_index")),
        sa.UniqueConstraint("comparison_id", name=op.f("uq_batch_rows_comparison_id")),
    )


def downgrade() -> None:
    op.drop_table("batch_rows")
    op.drop_index("ix_batches_status", table_name="batches")
    op.drop_index("ix_batches_project_created", table_name="batches")
    op.drop_table("batches")
    op.drop_index("ix_datasets_project", table_name="datasets")
    op.drop_table("datasets")
    op.drop_index("ix_prompt_templates_project", table_name="prompt_templates")
    op.drop_table("prompt_templates")
