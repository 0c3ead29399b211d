"""Accounts (passwords, Firebase ids, admins, budgets), sign-in sessions, API tokens,
project members with roles, share links and encrypted provider keys.

Every existing project gets its owner as a member with the role "owner".

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(32)
TS = sa.DateTime(timezone=True)


def _user_fk(table: str, column: str = "user_id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(255), nullable=True))
        batch.add_column(sa.Column("firebase_uid", sa.String(128), nullable=True))
        batch.add_column(sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("monthly_budget_usd", sa.Float(), nullable=True))
        batch.create_unique_constraint(op.f("uq_users_firebase_uid"), ["firebase_uid"])

    op.create_table(
        "auth_sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        _user_fk("auth_sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_sessions_token_hash")),
    )
    op.create_index("ix_auth_sessions_user", "auth_sessions", ["user_id"])

    op.create_table(
        "api_tokens",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        _user_fk("api_tokens"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index("ix_api_tokens_user", "api_tokens", ["user_id"])

    members = op.create_table(
        "project_members",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_members_project_id_projects"),
            ondelete="CASCADE",
        ),
        _user_fk("project_members"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_members")),
        sa.UniqueConstraint("project_id", "email", name=op.f("uq_project_members_project_id_email")),
    )
    op.create_index("ix_project_members_user", "project_members", ["user_id"])

    op.create_table(
        "shares",
        sa.Column("id", ID, nullable=False),
        sa.Column("comparison_id", ID, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_shares_comparison_id_comparisons"),
            ondelete="CASCADE",
        ),
        _user_fk("shares", "created_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shares")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_shares_token_hash")),
    )
    op.create_index("ix_shares_comparison", "shares", ["comparison_id"])

    op.create_table(
        "provider_credentials",
        sa.Column("id", ID, nullable=False),
        sa.Column("scope", ID, nullable=False),
        sa.Column("provider", sa.String(128), nullable=False),
        sa.Column("base_url", sa.String(2048), server_default="", nullable=False),
        sa.Column("encrypted_key", sa.Text(), server_default="", nullable=False),
        sa.Column("key_hint", sa.String(16), server_default="", nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_credentials")),
        sa.UniqueConstraint(
            "scope", "provider", name=op.f("uq_provider_credentials_scope_provider")
        ),
    )

    # Owners of existing projects become their "owner" members.
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT p.id, p.owner_id, u.email FROM projects p JOIN users u ON u.id = p.owner_id")
    ).all()
    now = datetime.now(UTC)
    if rows:
        op.bulk_insert(
            members,
            [
                {
                    "id": uuid.uuid4().hex,
                    "project_id": project_id,
                    "user_id": owner_id,
                    "email": email,
                    "role": "owner",
                    "created_at": now,
                }
                for project_id, owner_id, email in rows
            ],
        )


def downgrade() -> None:
    op.drop_table("provider_credentials")
    op.drop_index("ix_shares_comparison", table_name="shares")
    op.drop_table("shares")
    op.drop_index("ix_project_members_user", table_name="project_members")
    op.drop_table("project_members")
    op.drop_index("ix_api_tokens_user", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("ix_auth_sessions_user", table_name="auth_sessions")
    op.drop_table("auth_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_firebase_uid"), type_="unique")
        batch.drop_column("monthly_budget_usd")
        batch.drop_column("disabled")
        batch.drop_column("is_admin")
        batch.drop_column("firebase_uid")
        batch.drop_column("password_hash")
