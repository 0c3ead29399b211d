"""The usage aggregates and the runs export read runs and comparisons through indexes, never a
scan of either table, for each scope (one project, my projects, everyone) and with a model
filter (ix_runs_model_finished, migration 0010). Checked with SQLite's EXPLAIN QUERY PLAN."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.dialects import sqlite

from backend.db.engine import Database
from backend.db.run_export import ExportFilter, export_query
from backend.db.usage import Scope, usage_query

SINCE, UNTIL = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
SCOPES = {"project": Scope("u", project_id="p"), "mine": Scope("u", member_id="u"), "everyone": Scope("u")}


@pytest.fixture
async def migrated(tmp_path: Path) -> Path:
    path = tmp_path / "plans.db"
    db = Database(f"sqlite:///{path}")
    await db.upgrade()
    await db.dispose()
    return path


def _plan(path: Path, stmt: Any) -> list[str]:
    compiled = stmt.compile(dialect=sqlite.dialect())
    params = [compiled.params[name] for name in compiled.positiontup]
    with sqlite3.connect(path) as connection:
        return [row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + str(compiled), params)]


@pytest.mark.parametrize("scope", list(SCOPES))
async def test_no_table_scan_of_runs_or_comparisons(migrated: Path, scope: str) -> None:
    for stmt in (
        usage_query(SCOPES[scope], "model", SINCE, UNTIL),
        usage_query(SCOPES[scope], "day", SINCE, UNTIL),
        export_query(ExportFilter(SCOPES[scope], SINCE, UNTIL)),
    ):
        plan = _plan(migrated, stmt)
        assert any("runs USING INDEX" in step for step in plan), plan
        assert not [s for s in plan if s.startswith(("SCAN runs", "SCAN comparisons"))], plan
    by_model = _plan(migrated, export_query(ExportFilter(SCOPES[scope], SINCE, UNTIL, "simulated:instant")))
    assert any("ix_runs_model_finished" in step for step in by_model), by_model
