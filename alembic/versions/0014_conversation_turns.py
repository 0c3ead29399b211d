"""Conversations (issue 19): follow-up turns after a comparison's panes finish.

Every run gets the ``turn`` it answers and the pane-position index becomes unique per
(comparison, position, turn); votes and judgements record the turn they are about. Existing
rows take turn 1 from the server default, so every comparison saved before this migration reads
as a one-turn conversation. ``comparison_turns`` holds the follow-up messages (turn 2 on);
turn 1's message is the comparison's prompt.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
TS = sa.DateTime(timezone=True)


def _turn_column() -> sa.Column[int]:
    return sa.Column("turn", sa.Integer(), nullable=False, server_default="1")


def upgrade() -> None:
    for table in ("runs", "votes", "judgements"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(_turn_column())
    op.drop_index("ix_runs_comparison_position", table_name="runs")
    op.create_index("ix_runs_comparison_position", "runs", ["comparison_id", "position", "turn"], unique=True)
    op.create_table(
        "comparison_turns",
        sa.Column("id", ID, nullable=False),
        sa.Column("comparison_id", ID, nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("created_by", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_comparison_turns_comparison_id_comparisons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_comparison_turns_created_by_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comparison_turns")),
        sa.UniqueConstraint("comparison_id", "turn", name="uq_comparison_turns_comparison_id_turn"),
    )


def downgrade() -> None:
    # Going back to one prompt per comparison: the follow-ups and their answers go.
    op.drop_table("comparison_turns")
    op.execute(sa.text("DELETE FROM runs WHERE turn > 1"))
    op.drop_index("ix_runs_comparison_position", table_name="runs")
    op.create_index("ix_runs_comparison_position", "runs", ["comparison_id", "position"], unique=True)
    for table in ("judgements", "votes", "runs"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("turn")
