from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from backend.db.engine import Database, to_sync_url
from backend.db.models import Base
from backend.db.search_text import PG_INDEXES, include_object, is_search_text_table

REPO_ROOT = Path(__file__).resolve().parents[3]
APP_TABLES = set(Base.metadata.tables)
HEAD = "0018"
BELOW_HEAD = "0017"  # where one downgrade step from HEAD lands
APP_INDEXES = {
    "comparisons": {"ix_comparisons_project_created", "ix_comparisons_user_created"},
    "runs": {"ix_runs_comparison_position", "ix_runs_status", "ix_runs_finished", "ix_runs_model_finished"},
    "votes": {"ix_votes_updated"},
    "project_members": {"ix_project_members_user"},
    "auth_sessions": {"ix_auth_sessions_user"},
}


def _schema(url: str) -> tuple[set[str], dict[str, set[str]], str | None]:
    """The app's tables (the keyword index's own, on SQLite, under "search_text"), their indexes
    and the revision."""
    engine = create_engine(to_sync_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            tables = set(insp.get_table_names())
            indexes = {t: {ix["name"] for ix in insp.get_indexes(t)} for t in APP_TABLES & tables}
            version = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    search_text = {t for t in tables if is_search_text_table(t)}
    named: dict[str, set[str]] = {t: ix - {None} for t, ix in indexes.items()}  # type: ignore[misc]
    named["search_text"] = search_text
    return tables - search_text, named, version


def _has_keyword_index(url: str, indexes: dict[str, set[str]]) -> bool:
    """Migration 0018's full-text index: FTS5 tables on SQLite, pg_trgm GIN indexes on PostgreSQL."""
    if url.startswith("sqlite"):
        return {"search_docs", "search_fts"} <= indexes["search_text"]
    return indexes["comparisons"] | indexes["runs"] >= PG_INDEXES


async def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    db = Database(database_url)
    try:
        await db.upgrade()
        tables, indexes, version = _schema(database_url)
        assert tables == APP_TABLES | {"alembic_version"}
        assert version == HEAD
        for table, names in APP_INDEXES.items():
            assert names <= indexes[table]
        assert _has_keyword_index(database_url, indexes)

        await db.downgrade("-1")
        _, indexes, version = _schema(database_url)
        assert version == BELOW_HEAD
        assert not indexes["search_text"] and not _has_keyword_index(database_url, indexes)
        await db.downgrade("base")
        tables, indexes, version = _schema(database_url)
        assert tables == {"alembic_version"}
        assert version is None

        await db.upgrade()
        tables, _, version = _schema(database_url)
        assert tables == APP_TABLES | {"alembic_version"}
        assert version == HEAD
        await db.upgrade()  # already at head: a no-op
    finally:
        await db.dispose()


async def test_models_match_migrations(database_url: str) -> None:
    db = Database(database_url)
    await db.upgrade()
    engine = create_engine(to_sync_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": include_object})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_alembic_cli_uses_settings_url(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    proc = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    tables, _, version = _schema(database_url)
    assert tables == APP_TABLES | {"alembic_version"}
    assert version == HEAD


async def test_existing_project_owners_become_owner_members(database_url: str) -> None:
    """0003 gives every project that existed before it an "owner" member row."""
    db = Database(database_url)
    await db.upgrade("0002")
    engine = create_engine(to_sync_url(database_url), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, email, display_name, created_at) "
                    "VALUES ('u1', 'a@x.org', 'A', :t)"
                ),
                {"t": "2025-01-01T00:00:00+00:00"},
            )
            conn.execute(
                text("INSERT INTO projects (id, owner_id, name, created_at) VALUES ('p1', 'u1', 'P', :t)"),
                {"t": "2025-01-01T00:00:00+00:00"},
            )
        await db.upgrade()
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT project_id, user_id, email, role FROM project_members")).all()
    finally:
        engine.dispose()
        await db.dispose()
    assert [tuple(r) for r in rows] == [("p1", "u1", "a@x.org", "owner")]


async def test_existing_comparisons_become_one_turn_conversations(database_url: str) -> None:
    """0014 gives every run, vote and judgement saved before it turn 1, and no follow-up turns."""
    db = Database(database_url)
    await db.upgrade("0013")
    engine = create_engine(to_sync_url(database_url), poolclass=NullPool)
    t = {"t": "2025-01-01T00:00:00+00:00"}
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (id, email, created_at) VALUES ('u1', 'a@x.org', :t)"), t)
            conn.execute(
                text("INSERT INTO projects (id, owner_id, name, created_at) VALUES ('p1', 'u1', 'P', :t)"), t
            )
            conn.execute(
                text(
                    "INSERT INTO comparisons (id, project_id, user_id, prompt, settings, created_at) "
                    "VALUES ('c1', 'p1', 'u1', 'Hi', '{}', :t)"
                ),
                t,
            )
            for position in (0, 1):
                conn.execute(
                    text(
                        "INSERT INTO runs (id, comparison_id, position, provider, model, params, created_at) "
                        "VALUES (:id, 'c1', :p, 'simulated', 'simulated:swift', '{}', :t)"
                    ),
                    {**t, "id": f"r{position}", "p": position},
                )
            conn.execute(
                text(
                    "INSERT INTO votes (id, comparison_id, user_id, best_pane, thumbs, created_at, "
                    "updated_at) VALUES ('v1', 'c1', 'u1', 1, '[]', :t, :t)"
                ),
                t,
            )
        await db.upgrade()
        with engine.connect() as conn:
            runs = conn.execute(text("SELECT id, turn FROM runs ORDER BY id")).all()
            votes = conn.execute(text("SELECT turn FROM votes")).all()
            turns = conn.execute(text("SELECT count(*) FROM comparison_turns")).scalar_one()
        await db.downgrade("0013")
        with engine.connect() as conn:
            kept = conn.execute(text("SELECT count(*) FROM runs")).scalar_one()
    finally:
        engine.dispose()
        await db.dispose()
    assert [tuple(r) for r in runs] == [("r0", 1), ("r1", 1)]
    assert [tuple(r) for r in votes] == [(1,)]
    assert turns == 0
    assert kept == 2


async def test_0015_writes_stored_emails_canonically_and_counts_existing_accounts_proven(
    database_url: str,
) -> None:
    """0015: look-alike spellings stored before become the one spelling (a clash keeps the row as
    it was); accounts that existed count as proven (their memberships stand)."""
    db = Database(database_url)
    await db.upgrade("0014")
    engine = create_engine(to_sync_url(database_url), poolclass=NullPool)
    t = {"t": "2025-01-01T00:00:00+00:00"}
    users = [
        ("u1", "ada\u200b@example.org."),  # zero-width space and a trailing dot
        ("u2", "ｂｏｂ@example.org"),  # fullwidth
        ("u3", "cy@example.org"),
        ("u4", "cy@example.org\u200b"),  # clashes with u3 once canonical: kept as stored
    ]
    try:
        with engine.begin() as conn:
            for user_id, email in users:
                conn.execute(
                    text("INSERT INTO users (id, email, display_name, created_at) VALUES (:i, :e, 'x', :t)"),
                    {"i": user_id, "e": email, **t},
                )
            conn.execute(
                text("INSERT INTO projects (id, owner_id, name, created_at) VALUES ('p1', 'u1', 'P', :t)"), t
            )
            conn.execute(
                text(
                    "INSERT INTO project_members (id, project_id, user_id, email, role, created_at) "
                    "VALUES ('m1', 'p1', NULL, 'Ｎｅｗ@example.org', 'viewer', :t)"
                ),
                t,
            )
        await db.upgrade()
        with engine.connect() as conn:
            emails: dict[str, str] = {
                i: e for i, e in conn.execute(text("SELECT id, email FROM users")).all()
            }
            proven = conn.execute(
                text("SELECT count(*) FROM users WHERE email_verified_at IS NOT NULL")
            ).scalar()
            invited = conn.execute(text("SELECT email FROM project_members")).scalars().all()
    finally:
        engine.dispose()
        await db.dispose()
    assert emails == {
        "u1": "ada@example.org",
        "u2": "bob@example.org",
        "u3": "cy@example.org",
        "u4": "cy@example.org\u200b",
    }
    assert proven == 4
    assert invited == ["new@example.org"]


async def test_0016_lets_a_person_vote_on_each_turn_and_going_down_keeps_the_latest(
    database_url: str,
) -> None:
    """0016: one vote per person per comparison per turn (a second vote on the same turn is still
    refused); going down keeps each person's vote on the latest turn they voted on."""
    db = Database(database_url)
    await db.upgrade()
    engine = create_engine(to_sync_url(database_url), poolclass=NullPool)
    t = {"t": "2025-01-01T00:00:00+00:00"}
    vote = text(
        "INSERT INTO votes (id, comparison_id, user_id, best_pane, thumbs, comment, turn, created_at, "
        "updated_at) VALUES (:id, 'c1', :u, :best, '[]', '', :turn, :t, :t)"
    )
    try:
        with engine.begin() as conn:
            for user_id in ("u1", "u2"):
                conn.execute(
                    text("INSERT INTO users (id, email, display_name, created_at) VALUES (:i, :e, 'x', :t)"),
                    {"i": user_id, "e": f"{user_id}@x.org", **t},
                )
            conn.execute(
                text("INSERT INTO projects (id, owner_id, name, created_at) VALUES ('p1', 'u1', 'P', :t)"), t
            )
            conn.execute(
                text(
                    "INSERT INTO comparisons (id, project_id, user_id, prompt, settings, created_at) "
                    "VALUES ('c1', 'p1', 'u1', 'Hi', '{}', :t)"
                ),
                t,
            )
            for id_, user_id, best, turn in (("v1", "u1", 0, 1), ("v2", "u1", 1, 2), ("v3", "u2", 0, 1)):
                conn.execute(vote, {**t, "id": id_, "u": user_id, "best": best, "turn": turn})
        refused = False
        try:
            with engine.begin() as conn:
                conn.execute(vote, {**t, "id": "v4", "u": "u1", "best": 0, "turn": 2})
        except IntegrityError:
            refused = True
        await db.downgrade("0015")
        with engine.connect() as conn:
            kept = conn.execute(text("SELECT id, best_pane FROM votes ORDER BY id")).all()
        await db.upgrade()
    finally:
        engine.dispose()
        await db.dispose()
    assert refused
    assert [tuple(r) for r in kept] == [("v2", 1), ("v3", 0)]
