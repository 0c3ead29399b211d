"""Blind comparisons and battles (issue 14): who has revealed which comparison, and the
models a project's battles draw from.

A blind comparison is flagged in its settings (``{"blind": true}``), so only the reveals
need a table: one row per (comparison, person) that pressed "Reveal". Deleting the
comparison deletes its reveals. ``projects.battle_pool`` lists model ids (empty: any
available model).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("battle_pool", sa.JSON(), server_default="[]", nullable=False))
    op.create_table(
        "comparison_reveals",
        sa.Column("id", ID, nullable=False),
        sa.Column("comparison_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_comparison_reveals_comparison_id_comparisons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_comparison_reveals_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comparison_reveals")),
        sa.UniqueConstraint(
            "comparison_id", "user_id", name=op.f("uq_comparison_reveals_comparison_id_user_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("comparison_reveals")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("battle_pool")
