from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from backend.db.engine import Database, to_sync_url
from backend.db.models import Base

REPO_ROOT = Path(__file__).resolve().parents[3]
APP_TABLES = {"users", "projects", "comparisons", "runs"}
APP_INDEXES = {
    "comparisons": {"ix_comparisons_project_created", "ix_comparisons_user_created"},
    "runs": {"ix_runs_comparison_position", "ix_runs_status"},
}


def _schema(url: str) -> tuple[set[str], dict[str, set[str]], str | None]:
    engine = create_engine(to_sync_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            tables = set(insp.get_table_names())
            indexes = {t: {ix["name"] for ix in insp.get_indexes(t)} for t in APP_TABLES & tables}
            version = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    return tables, {t: ix - {None} for t, ix in indexes.items()}, version  # type: ignore[operator]


async def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    db = Database(database_url)
    try:
        await db.upgrade()
        tables, indexes, version = _schema(database_url)
        assert tables == APP_TABLES | {"alembic_version"}
        assert version == "0002"
        for table, names in APP_INDEXES.items():
            assert names <= indexes[table]

        await db.downgrade("-1")
        _, _, version = _schema(database_url)
        assert version == "0001"
        await db.downgrade("base")
        tables, indexes, version = _schema(database_url)
        assert tables == {"alembic_version"}
        assert version is None

        await db.upgrade()
        tables, _, version = _schema(database_url)
        assert tables == APP_TABLES | {"alembic_version"}
        assert version == "0002"
        await db.upgrade()  # already at head: a no-op
    finally:
        await db.dispose()


async def test_models_match_migrations(database_url: str) -> None:
    db = Database(database_url)
    await db.upgrade()
    engine = create_engine(to_sync_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
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
    assert version == "0002"
