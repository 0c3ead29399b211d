"""ORM models: users and their sign-in sessions and API tokens, projects and their
members, comparisons, their runs, share links and votes, and stored provider keys.

Every primary key is a uuid4 hex string (unguessable in URLs and the same on
SQLite and PostgreSQL). Timestamps are timezone-aware UTC on both engines.
The schema itself is owned by the Alembic migrations in ``alembic/versions``;
a test checks that these models and the migrations agree.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

ID_LENGTH = 32
DEFAULT_PROJECT_NAME = "Personal"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    """A fresh primary key: 32 lowercase hex characters from uuid4."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always returns an aware UTC datetime (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware (UTC) datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime}


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # Built-in accounts only; argon2id hash (never the password). Firebase users have none.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    firebase_uid: Mapped[str | None] = mapped_column(String(128), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Spend limit per calendar month (UTC) in USD; None = no limit.
    monthly_budget_usd: Mapped[float | None] = mapped_column(Float)
    # The UI language the person chose ("en" | "ja"); None = follow the browser.
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the person proved they read this address (an emailed link, or Firebase's email_verified);
    # None: unproven, so invitations to the address are not theirs yet.
    email_verified_at: Mapped[datetime | None] = mapped_column()


class EmailVerification(Base):
    """A single-use link emailed to prove an address; the link holds a token, the row its SHA-256."""

    __tablename__ = "email_verifications"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))  # the address the link went to
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class AuthSession(Base):
    """A signed-in browser. The browser holds a random token; only its SHA-256 is stored."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class ApiToken(Base):
    """A personal API token: shown once, stored as SHA-256, acts with its owner's rights."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to tell tokens apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_projects_owner_id_name"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The models a Battle draws from; empty: every model available to the person.
    battle_pool: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")


class ProjectMember(Base):
    """A role in a project. The owner has a row too. An invitation to an email with no
    account yet has no user_id; it is claimed when that email signs up."""

    __tablename__ = "project_members"
    __table_args__ = (UniqueConstraint("project_id", "email", name="uq_project_members_project_id_email"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))  # owner | editor | viewer
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Comparison(Base):
    __tablename__ = "comparisons"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("projects.id"))
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("users.id"))
    prompt: Mapped[str] = mapped_column(Text)
    system_prompt: Mapped[str] = mapped_column(Text, default="", server_default="")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    runs: Mapped[list[Run]] = relationship(
        back_populates="comparison",
        order_by="Run.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    comparison_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("comparisons.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    # The conversation turn this run answers (1: the comparison's prompt; backend/db/turns.py).
    turn: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(255))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    output_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    error_kind: Mapped[str] = mapped_column(String(64), default="", server_default="")
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    total_ms: Mapped[float | None] = mapped_column(Float)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    output_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    cache_hit: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set on a cache replay: the timings of the provider call that produced the answer.
    original_ttft_ms: Mapped[float | None] = mapped_column(Float)
    original_total_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    # The worker's claim on the current attempt (backend/db/leases.py): who holds it, until when.
    # Cleared when the attempt ends or is retried.
    claimed_by: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None] = mapped_column()

    comparison: Mapped[Comparison] = relationship(back_populates="runs")


class RunAttempt(Base):
    """An earlier attempt of a run, as it ended when a Retry replaced it (the run's row holds
    the current attempt)."""

    __tablename__ = "run_attempts"
    __table_args__ = (UniqueConstraint("run_id", "attempt", name="uq_run_attempts_run_id_attempt"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("runs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)  # 0-based, as runs.attempt
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    output_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    input_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    output_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    finished_at: Mapped[datetime | None] = mapped_column()
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)


class ComparisonTurn(Base):
    """A follow-up message in a comparison's conversation (turn 2, 3 ...); turn 1 is the
    comparison's own prompt and has no row. ``position`` None: sent to every pane; else to that
    pane only. The answers are the runs with this ``turn``."""

    __tablename__ = "comparison_turns"
    __table_args__ = (
        UniqueConstraint("comparison_id", "turn", name="uq_comparison_turns_comparison_id_turn"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    comparison_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("comparisons.id", ondelete="CASCADE")
    )
    turn: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    position: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reveal(Base):
    """One person's "Reveal" on a blind comparison: from then on they see its model ids.

    A vote reveals too (backend/services/blind.py reads both); this row is for revealing
    without voting.
    """

    __tablename__ = "comparison_reveals"
    __table_args__ = (
        UniqueConstraint("comparison_id", "user_id", name="uq_comparison_reveals_comparison_id_user_id"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    comparison_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("comparisons.id", ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Share(Base):
    """A read-only public link to one comparison; the URL holds a token, the row its SHA-256."""

    __tablename__ = "shares"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    comparison_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("comparisons.id", ondelete="CASCADE")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class ProviderCredential(Base):
    """A provider key (and endpoint), encrypted at rest.

    ``scope`` is a user id for a user's own key, or ``DEPLOYMENT_SCOPE`` for the key an
    admin set for everyone; a user's key is used before the deployment's.
    """

    __tablename__ = "provider_credentials"
    __table_args__ = (UniqueConstraint("scope", "provider", name="uq_provider_credentials_scope_provider"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    scope: Mapped[str] = mapped_column(String(ID_LENGTH))
    provider: Mapped[str] = mapped_column(String(128))  # a model family, e.g. "openai"
    base_url: Mapped[str] = mapped_column(String(2048), default="", server_default="")
    encrypted_key: Mapped[str] = mapped_column(Text, default="", server_default="")
    key_hint: Mapped[str] = mapped_column(String(16), default="", server_default="")  # "…abcd"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The stored key's last test (None: never tested since it was saved); a save clears it.
    tested_at: Mapped[datetime | None] = mapped_column()
    test_ok: Mapped[bool | None] = mapped_column(Boolean)
    test_message: Mapped[str] = mapped_column(Text, default="", server_default="")


DEPLOYMENT_SCOPE = "*"

VOTE_COMMENT_MAX_CHARS = 2000


class Vote(Base):
    """One member's verdict on one turn of a finished comparison; changing it updates this row.

    Exactly one of ``best_pane`` (a run position) and ``no_winner`` ("tie" | "all_bad") is set.
    ``thumbs`` is a list in pane order of "up", "down" or None.
    """

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("comparison_id", "user_id", "turn", name="uq_votes_comparison_id_user_id_turn"),
        CheckConstraint(
            "(best_pane IS NULL AND no_winner IS NOT NULL) OR (best_pane IS NOT NULL AND no_winner IS NULL)",
            name="one_choice",
        ),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    comparison_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("comparisons.id", ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"))
    best_pane: Mapped[int | None] = mapped_column(Integer)
    # The conversation turn the vote is about: one vote per person per comparison per turn.
    turn: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    no_winner: Mapped[str | None] = mapped_column(String(16))
    thumbs: Mapped[list[str | None]] = mapped_column(JSON, default=list)
    comment: Mapped[str] = mapped_column(String(VOTE_COMMENT_MAX_CHARS), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


RUBRIC_MAX_CHARS = 4000


class Rubric(Base):
    """A project's own judging rubric, edited by its owners; no row: the default rubric."""

    __tablename__ = "rubrics"

    project_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    text: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Judgement(Base):
    """An LLM judge's pass over a finished comparison (issue 14): which model, against which rubric."""

    __tablename__ = "judgements"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    comparison_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("comparisons.id", ondelete="CASCADE")
    )
    judge_model: Mapped[str] = mapped_column(String(255))
    # The conversation turn judged (the latest when the judgement started).
    turn: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    rubric: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JudgeRun(Base):
    """One order of one pair of panes shown to the judge, and its parsed verdict.

    The judge's call is an ordinary one-pane comparison (``run_comparison_id``, same project and
    user) so it goes through the queue, workers, budgets and rate limits like any run; history
    and the pane leaderboards leave such comparisons out. ``winner`` is the position shown
    first ("A"), second ("B") or "tie"; ``error`` says why a finished run gave no verdict.
    """

    __tablename__ = "judge_runs"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    judgement_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("judgements.id", ondelete="CASCADE")
    )
    run_comparison_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("comparisons.id", ondelete="CASCADE"), unique=True
    )
    first_pane: Mapped[int] = mapped_column(Integer)
    second_pane: Mapped[int] = mapped_column(Integer)
    winner: Mapped[str | None] = mapped_column(String(8))
    rationale: Mapped[str] = mapped_column(Text, default="", server_default="")
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    settled_at: Mapped[datetime | None] = mapped_column()


class PromptVersion(Base):
    """A comparison as one version of a prompt: version 1 is the comparison an improvement was
    first accepted from, each accepted improvement runs the next one. ``lineage_id`` is shared by
    every version of one prompt (the first version's comparison id)."""

    __tablename__ = "prompt_versions"
    __table_args__ = (
        UniqueConstraint("lineage_id", "version", name="uq_prompt_versions_lineage_id_version"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    lineage_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    version: Mapped[int] = mapped_column(Integer)
    comparison_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("comparisons.id", ondelete="CASCADE"), unique=True
    )
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    proposed_by: Mapped[str] = mapped_column(String(255), default="", server_default="")  # the model
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SearchIndexJob(Base):
    """A comparison whose search vectors must be (re)written or removed: the indexer's outbox.

    Written when a comparison finishes, is retried, voted on or deleted; removed once the vector
    index has it (backend/search/indexer.py). One row per comparison: a newer request replaces the
    older one and bumps ``version``, so a job finishing late never erases a request made meanwhile.
    No foreign key: a deletion's job outlives its comparison.
    """

    __tablename__ = "search_index_jobs"

    comparison_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    action: Mapped[str] = mapped_column(String(16))  # index | delete
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claim_expires_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PromptTemplate(Base):
    """One version of a project's prompt template (issue 19): text with ``{{name}}`` variables.

    Versions work as prompt versions do (PromptVersion): every version of one template shares
    ``lineage_id`` (its first version's id) and saving again adds version n+1; a template is never
    edited in place, so a batch always names the exact text it ran."""

    __tablename__ = "prompt_templates"
    __table_args__ = (
        UniqueConstraint("lineage_id", "version", name="uq_prompt_templates_lineage_id_version"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("projects.id", ondelete="CASCADE"))
    lineage_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    system_prompt: Mapped[str] = mapped_column(Text, default="", server_default="")
    variables: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dataset(Base):
    """A table of variable values saved in a project: one batch row per table row."""

    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    rows: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created_by: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Batch(Base):
    """A template run over a table of values across models; each table row becomes one hidden
    comparison (its rendered prompt, one run per model) when the dispatcher sends it
    (backend/services/batch_dispatch.py). ``status``: running | done | cancelled | stopped."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("users.id"))
    template_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("prompt_templates.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    prompt: Mapped[str] = mapped_column(Text)  # the template's text, as it ran
    system_prompt: Mapped[str] = mapped_column(Text, default="", server_default="")
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # temperature, max_tokens
    assertions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="running", server_default="running")
    note: Mapped[str] = mapped_column(Text, default="", server_default="")  # why it waits or stopped
    not_before: Mapped[datetime | None] = mapped_column()  # a rate limit's window: dispatch after
    total_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class BatchRow(Base):
    """One row of a batch's table; ``comparison_id`` is set, once, when the row is sent."""

    __tablename__ = "batch_rows"
    __table_args__ = (UniqueConstraint("batch_id", "row_index", name="uq_batch_rows_batch_id_row_index"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    batch_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("batches.id", ondelete="CASCADE"))
    row_index: Mapped[int] = mapped_column(Integer)
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comparison_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("comparisons.id", ondelete="SET NULL"), unique=True
    )


Index("ix_comparisons_project_created", Comparison.project_id, Comparison.created_at.desc())
Index("ix_comparisons_user_created", Comparison.user_id, Comparison.created_at.desc())
Index("ix_runs_comparison_position", Run.comparison_id, Run.position, Run.turn, unique=True)
Index("ix_runs_status", Run.status)
Index("ix_project_members_user", ProjectMember.user_id)
Index("ix_auth_sessions_user", AuthSession.user_id)
Index("ix_api_tokens_user", ApiToken.user_id)
Index("ix_shares_comparison", Share.comparison_id)
# The leaderboard cache's database stamp (backend.db.votes.database_stamp): latest change, one lookup.
Index("ix_votes_updated", Vote.updated_at)
Index("ix_runs_finished", Run.finished_at)
# Usage and export by model over a time window (backend/db/usage.py, backend/db/run_export.py).
Index("ix_runs_model_finished", Run.model, Run.finished_at)
Index("ix_judgements_comparison", Judgement.comparison_id)
Index("ix_judge_runs_judgement", JudgeRun.judgement_id)
Index("ix_search_index_jobs_not_before", SearchIndexJob.not_before)
Index("ix_prompt_templates_project", PromptTemplate.project_id)
Index("ix_datasets_project", Dataset.project_id)
Index("ix_batches_project_created", Batch.project_id, Batch.created_at.desc())
Index("ix_batches_status", Batch.status)
