"""Search by meaning (issue 17): the indexer's outbox of comparisons to (re)index or remove.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "search_index_jobs",
        sa.Column("comparison_id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claim_expires_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("comparison_id", name=op.f("pk_search_index_jobs")),
    )
    op.create_index("ix_search_index_jobs_not_before", "search_index_jobs", ["not_before"])


def downgrade() -> None:
    op.drop_index("ix_search_index_jobs_not_before", table_name="search_index_jobs")
    op.drop_table("search_index_jobs")
