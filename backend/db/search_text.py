"""The keyword-search index's tables and indexes (migration 0018), which live outside the
SQLAlchemy models because they differ by engine: on SQLite an FTS5 index (`search_fts`, trigram
tokenizer) over `search_docs`, kept by triggers on comparisons and runs; on PostgreSQL pg_trgm
GIN indexes on the prompt, system prompt and answers.

A later migration that rebuilds `comparisons` or `runs` on SQLite (Alembic's batch mode copies
the table and drops the old one) drops their triggers with it: it must create them again
(tests/backend/search/test_keyword.py fails if a comparison stops being found).
"""

from __future__ import annotations

from typing import Any

SQLITE_TABLE_PREFIXES = ("search_docs", "search_fts")  # with FTS5's shadow tables search_fts_*
PG_INDEXES = frozenset(
    {"ix_comparisons_prompt_trgm", "ix_comparisons_system_prompt_trgm", "ix_runs_output_text_trgm"}
)


def is_search_text_table(name: str) -> bool:
    return name.startswith(SQLITE_TABLE_PREFIXES)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's include_object: the models do not describe the keyword index, so autogenerate
    must neither drop it nor report it."""
    if not reflected or name is None:
        return True
    if type_ == "table":
        return not is_search_text_table(name)
    if type_ == "index":
        return name not in PG_INDEXES
    return True
