"""Runs replayed from the response cache keep the original call's timings.

Revision ID: 0002
Revises: 0001
Create Date: 2025-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("original_ttft_ms", sa.Float(), nullable=True))
        batch.add_column(sa.Column("original_total_ms", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("original_total_ms")
        batch.drop_column("original_ttft_ms")
