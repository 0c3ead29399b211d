"""Keyword search by a full-text index instead of a LIKE scan (issue 17).

- SQLite: `search_docs` holds one row per comparison (its prompt, system prompt and every
  answer joined), kept by triggers on `comparisons` and `runs`; `search_fts` is an FTS5 index
  over it (external content, so the text is stored once) with the `trigram` tokenizer, which
  needs no word boundaries and so indexes Japanese as well as English (queries of 3+ characters;
  shorter terms are matched with LIKE, backend/search/keyword.py). Its own rowid, not
  `comparisons.rowid`, which VACUUM may renumber on a table with a text primary key.
- PostgreSQL: the pg_trgm extension and GIN trigram indexes on the prompt, system prompt and
  answers: ILIKE '%term%' is answered from the index (Japanese too: pg_trgm makes trigrams of
  any letters of the database's UTF-8 character classes). The extension stays on downgrade
  (other objects may use it; it is harmless).

These are outside the SQLAlchemy models (engine-specific); backend/db/search_text.py names them
so Alembic's autogenerate and the model/migration comparison leave them alone.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANSWERS = (
    "coalesce((SELECT group_concat(output_text, char(10)) FROM runs"
    " WHERE runs.comparison_id = {cid} AND runs.output_text != ''), '')"
)

SQLITE_UP = [
    """CREATE TABLE search_docs (
        doc_id INTEGER PRIMARY KEY,
        comparison_id VARCHAR(32) NOT NULL UNIQUE,
        prompt TEXT NOT NULL DEFAULT '',
        system_prompt TEXT NOT NULL DEFAULT '',
        answers TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE VIRTUAL TABLE search_fts USING fts5(
        prompt, system_prompt, answers,
        content='search_docs', content_rowid='doc_id', tokenize='trigram'
    )""",
    # The FTS index follows search_docs (the external-content pattern of the FTS5 manual).
    """CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
        INSERT INTO search_fts(rowid, prompt, system_prompt, answers)
        VALUES (new.doc_id, new.prompt, new.system_prompt, new.answers);
    END""",
    """CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
        INSERT INTO search_fts(search_fts, rowid, prompt, system_prompt, answers)
        VALUES ('delete', old.doc_id, old.prompt, old.system_prompt, old.answers);
    END""",
    """CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN
        INSERT INTO search_fts(search_fts, rowid, prompt, system_prompt, answers)
        VALUES ('delete', old.doc_id, old.prompt, old.system_prompt, old.answers);
        INSERT INTO search_fts(rowid, prompt, system_prompt, answers)
        VALUES (new.doc_id, new.prompt, new.system_prompt, new.answers);
    END""",
    # search_docs follows the comparisons and their answers (answers are written once, when a
    # run ends, and cleared by a retry: not on every streamed token).
    """CREATE TRIGGER search_comparisons_ai AFTER INSERT ON comparisons BEGIN
        INSERT INTO search_docs(comparison_id, prompt, system_prompt)
        VALUES (new.id, new.prompt, coalesce(new.system_prompt, ''));
    END""",
    """CREATE TRIGGER search_comparisons_au AFTER UPDATE OF prompt, system_prompt ON comparisons BEGIN
        UPDATE search_docs SET prompt = new.prompt, system_prompt = coalesce(new.system_prompt, '')
        WHERE comparison_id = new.id;
    END""",
    """CREATE TRIGGER search_comparisons_ad AFTER DELETE ON comparisons BEGIN
        DELETE FROM search_docs WHERE comparison_id = old.id;
    END""",
    f"""CREATE TRIGGER search_runs_ai AFTER INSERT ON runs WHEN new.output_text != '' BEGIN
        UPDATE search_docs SET answers = {ANSWERS.format(cid="new.comparison_id")}
        WHERE comparison_id = new.comparison_id;
    END""",
    f"""CREATE TRIGGER search_runs_au AFTER UPDATE OF output_text ON runs
    WHEN new.output_text IS NOT old.output_text BEGIN
        UPDATE search_docs SET answers = {ANSWERS.format(cid="new.comparison_id")}
        WHERE comparison_id = new.comparison_id;
    END""",
    f"""CREATE TRIGGER search_runs_ad AFTER DELETE ON runs WHEN old.output_text != '' BEGIN
        UPDATE search_docs SET answers = {ANSWERS.format(cid="old.comparison_id")}
        WHERE comparison_id = old.comparison_id;
    END""",
    # What is there already (the triggers above fill search_fts as the rows go in).
    f"""INSERT INTO search_docs(comparison_id, prompt, system_prompt, answers)
        SELECT id, prompt, coalesce(system_prompt, ''), {ANSWERS.format(cid="comparisons.id")}
        FROM comparisons""",
]

SQLITE_DOWN = [
    *(
        f"DROP TRIGGER IF EXISTS {name}"
        for name in (
            "search_runs_ad",
            "search_runs_au",
            "search_runs_ai",
            "search_comparisons_ad",
            "search_comparisons_au",
            "search_comparisons_ai",
            "search_docs_au",
            "search_docs_ad",
            "search_docs_ai",
        )
    ),
    "DROP TABLE IF EXISTS search_fts",
    "DROP TABLE IF EXISTS search_docs",
]

PG_INDEXES = (
    ("ix_comparisons_prompt_trgm", "comparisons", "prompt"),
    ("ix_comparisons_system_prompt_trgm", "comparisons", "system_prompt"),
    ("ix_runs_output_text_trgm", "runs", "output_text"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in PG_INDEXES:
            op.execute(f"CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)")
        return
    for statement in SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, _, _ in PG_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        return
    for statement in SQLITE_DOWN:
        op.execute(statement)
