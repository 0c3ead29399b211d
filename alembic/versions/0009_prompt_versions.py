"""Prompt versions (issue 14's improved prompt): each accepted improvement runs a comparison
recorded as the next version of the same prompt.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "prompt_versions",
        sa.Column("id", ID, nullable=False),
        sa.Column("lineage_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("comparison_id", ID, nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("proposed_by", sa.String(255), server_default="", nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_prompt_versions_comparison_id_comparisons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_versions")),
        sa.UniqueConstraint("comparison_id", name=op.f("uq_prompt_versions_comparison_id")),
        sa.UniqueConstraint("lineage_id", "version", name=op.f("uq_prompt_versions_lineage_id_version")),
    )


def downgrade() -> None:
    op.drop_table("prompt_versions")
