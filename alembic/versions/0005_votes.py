"""Votes: one person's verdict on a finished comparison (issue 14).

A vote names the best pane, or "tie" / "all bad" (exactly one of the two columns is set),
gives each pane an optional thumb up or down (a JSON list in pane order) and an optional
comment. One row per (comparison, voter): changing a vote updates the row. Deleting a
comparison deletes its votes, so the leaderboard forgets them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "votes",
        sa.Column("id", ID, nullable=False),
        sa.Column("comparison_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("best_pane", sa.Integer(), nullable=True),
        sa.Column("no_winner", sa.String(16), nullable=True),
        sa.Column("thumbs", sa.JSON(), nullable=False),
        sa.Column("comment", sa.String(2000), server_default="", nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_votes_comparison_id_comparisons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_votes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_votes")),
        sa.UniqueConstraint("comparison_id", "user_id", name=op.f("uq_votes_comparison_id_user_id")),
        sa.CheckConstraint(
            "(best_pane IS NULL AND no_winner IS NOT NULL) OR (best_pane IS NOT NULL AND no_winner IS NULL)",
            name=op.f("ck_votes_one_choice"),
        ),
    )


def downgrade() -> None:
    op.drop_table("votes")
