"""One vote per person per comparison per turn (issue 19).

Until now a person had one vote per comparison, about the turn that was latest when they voted
(0014 recorded which). Each turn of a conversation is now voted on by itself: the unique
constraint on votes grows the ``turn`` column.

Going down keeps, for each person and comparison, the vote on the latest turn they voted on
(what the old code would have held) and deletes the others.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "uq_votes_comparison_id_user_id"
NEW = "uq_votes_comparison_id_user_id_turn"


def upgrade() -> None:
    with op.batch_alter_table("votes") as batch:
        batch.drop_constraint(OLD, type_="unique")
        batch.create_unique_constraint(NEW, ["comparison_id", "user_id", "turn"])


def downgrade() -> None:
    op.execute(
        sa.text(
            "DELETE FROM votes WHERE EXISTS (SELECT 1 FROM votes AS later "
            "WHERE later.comparison_id = votes.comparison_id AND later.user_id = votes.user_id "
            "AND later.turn > votes.turn)"
        )
    )
    with op.batch_alter_table("votes") as batch:
        batch.drop_constraint(NEW, type_="unique")
        batch.create_unique_constraint(OLD, ["comparison_id", "user_id"])
