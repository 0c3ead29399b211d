"""An index for usage and export by model (issue 18).

The usage page and the runs export filter finished runs by time, per model (the export's
``model=`` filter, a model's figures over a window): ``(model, finished_at)`` answers "this
model's runs that finished in [since, until)" with one index range instead of every run in the
window. The window over all models uses ``ix_runs_finished`` (0006).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_runs_model_finished", "runs", ["model", "finished_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_model_finished", table_name="runs")
