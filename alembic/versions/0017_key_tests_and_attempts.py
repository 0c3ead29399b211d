"""Each saved key's last test, and every earlier attempt of a retried run (issue 16).

- ``provider_credentials.tested_at / test_ok / test_message``: when the stored key was last
  tested and how it went (NULL: never tested since it was saved). Settings shows "never
  tested", "test failed: <reason>" or "tested <date>" beside it; the model picker marks the
  models whose key failed.
- ``run_attempts``: what an attempt of a run ended as (status, error, text and figures) when a
  Retry replaced it, so "attempt 2 of 2" can show attempt 1 after a reload too.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("provider_credentials") as batch:
        batch.add_column(sa.Column("tested_at", TS, nullable=True))
        batch.add_column(sa.Column("test_ok", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("test_message", sa.Text(), server_default="", nullable=False))
    op.create_table(
        "run_attempts",
        sa.Column("id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("output_text", sa.Text(), server_default="", nullable=False),
        sa.Column("input_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("output_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cost_usd", sa.Float(), server_default="0", nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("replaced_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_attempts_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_attempts")),
        sa.UniqueConstraint("run_id", "attempt", name="uq_run_attempts_run_id_attempt"),
    )


def downgrade() -> None:
    op.drop_table("run_attempts")
    with op.batch_alter_table("provider_credentials") as batch:
        batch.drop_column("test_message")
        batch.drop_column("test_ok")
        batch.drop_column("tested_at")
