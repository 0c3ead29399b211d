"""LLM-as-judge (issue 14): project rubrics, judgements and their judge runs.

A judgement is one judge model's pass over a finished comparison. Each (pair of panes, order)
the judge sees is a ``judge_runs`` row pointing at the one-pane comparison whose run asked the
judge (so it is queued, streamed, budgeted and rate-limited like any run) and holding the
verdict parsed from its answer. Deleting the judged comparison deletes its judgements with
their rows (the service deletes the judge's own comparisons with it), so the judge
leaderboard forgets them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rubrics",
        sa.Column("project_id", ID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_by", ID, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_rubrics_project_id_projects"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_rubrics_updated_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_rubrics")),
    )
    op.create_table(
        "judgements",
        sa.Column("id", ID, nullable=False),
        sa.Column("comparison_id", ID, nullable=False),
        sa.Column("judge_model", sa.String(255), nullable=False),
        sa.Column("rubric", sa.Text(), nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_judgements_comparison_id_comparisons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_judgements_created_by_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judgements")),
    )
    op.create_index("ix_judgements_comparison", "judgements", ["comparison_id"])
    op.create_table(
        "judge_runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("judgement_id", ID, nullable=False),
        sa.Column("run_comparison_id", ID, nullable=False),
        sa.Column("first_pane", sa.Integer(), nullable=False),
        sa.Column("second_pane", sa.Integer(), nullable=False),
        sa.Column("winner", sa.String(8), nullable=True),
        sa.Column("rationale", sa.Text(), server_default="", nullable=False),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("settled_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["judgement_id"],
            ["judgements.id"],
            name=op.f("fk_judge_runs_judgement_id_judgements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_judge_runs_run_comparison_id_comparisons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judge_runs")),
        sa.UniqueConstraint("run_comparison_id", name=op.f("uq_judge_runs_run_comparison_id")),
    )
    op.create_index("ix_judge_runs_judgement", "judge_runs", ["judgement_id"])


def downgrade() -> None:
    op.drop_index("ix_judge_runs_judgement", table_name="judge_runs")
    op.drop_table("judge_runs")
    op.drop_index("ix_judgements_comparison", table_name="judgements")
    op.drop_table("judgements")
    op.drop_table("rubrics")
