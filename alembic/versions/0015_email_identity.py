"""Proven email addresses and one spelling per address (issue 15).

- ``users.email_verified_at``: when the person proved the address (an emailed single-use link,
  or Firebase's email_verified). Invitations to an address go to an account only once it is
  proven. Accounts that exist already keep the memberships they have, so they count as proven
  from their creation (they were accepted under the old rules; an operator can clear it).
- ``email_verifications``: the emailed links, by the SHA-256 of their token.
- Stored emails (users, project_members) are put in their canonical form
  (backend/email_address.py: NFKC, no invisible characters, IDNA domain, no trailing dot);
  a row whose canonical form another row already has is left as it was (logged), never merged.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from backend.email_address import canonical_email

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
TS = sa.DateTime(timezone=True)
log = logging.getLogger("alembic.runtime.migration")


def _normalise_users(conn: sa.Connection) -> None:
    rows = conn.execute(sa.text("SELECT id, email FROM users")).all()
    taken = {email for _, email in rows}
    for user_id, email in rows:
        canonical = canonical_email(email)
        if canonical == email:
            continue
        if canonical in taken:
            log.warning("users.%s: email kept as stored; its canonical form belongs to another row", user_id)
            continue
        conn.execute(sa.text("UPDATE users SET email = :e WHERE id = :id"), {"e": canonical, "id": user_id})
        taken.add(canonical)


def _normalise_members(conn: sa.Connection) -> None:
    rows = conn.execute(sa.text("SELECT project_id, email FROM project_members")).all()
    taken = {(p, e) for p, e in rows}
    for project_id, email in rows:
        canonical = canonical_email(email)
        if canonical == email or (project_id, canonical) in taken:
            continue
        conn.execute(
            sa.text("UPDATE project_members SET email = :c WHERE project_id = :p AND email = :e"),
            {"c": canonical, "p": project_id, "e": email},
        )
        taken.add((project_id, canonical))


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email_verified_at", TS, nullable=True))
    op.execute("UPDATE users SET email_verified_at = created_at")
    op.create_table(
        "email_verifications",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_email_verifications_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_verifications")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_email_verifications_token_hash")),
    )
    op.create_index(op.f("ix_email_verifications_user_id"), "email_verifications", ["user_id"])
    conn = op.get_bind()
    _normalise_users(conn)
    _normalise_members(conn)


def downgrade() -> None:
    # Canonical emails stay canonical: the old code looks them up lower-cased, which they are.
    op.drop_index(op.f("ix_email_verifications_user_id"), table_name="email_verifications")
    op.drop_table("email_verifications")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email_verified_at")
