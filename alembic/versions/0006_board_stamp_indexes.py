"""Indexes for the leaderboard cache's database stamp (issue 14).

Every leaderboard request first reads a stamp of the whole database: the number of votes and
their latest change, the number of finished runs and the latest finish. When it has not moved,
the cached board is served without the per-project fingerprint (a join over the project's
votes and runs). These two indexes make the latest change and the latest finish one index
lookup each instead of a table scan.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_votes_updated", "votes", ["updated_at"])
    op.create_index("ix_runs_finished", "runs", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_finished", table_name="runs")
    op.drop_index("ix_votes_updated", table_name="votes")
