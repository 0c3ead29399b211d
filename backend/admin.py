"""Operator commands.

    python -m backend.admin create-admin EMAIL [--name NAME]
    python -m backend.admin migrate
    python -m backend.admin reindex [--rebuild]

`reindex` embeds every comparison into the search index (idempotent: each comparison's vectors
are replaced), with a progress bar; `--rebuild` first empties the index and stamps it with the
configured embedding model (needed after changing SEARCH_EMBEDDER or its model).

The password is read from LLMDASH_ADMIN_PASSWORD, from the file named by
LLMDASH_ADMIN_PASSWORD_FILE (a mounted secret), or asked for on the terminal,
never taken from the command line (it would sit in the shell history and `ps`).
In production this is how the first admin is made: the app does not let the
first person to sign up become the admin there.

`migrate` upgrades the database schema to the newest Alembic revision: a
deployment runs it (a Cloud Run job) before moving traffic to a new revision,
with MIGRATE_ON_START=false on the app.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from typing import TextIO

from backend.auth.passwords import hash_password, password_problem
from backend.db import accounts as repo
from backend.db.engine import Database
from backend.settings import get_settings


async def create_admin(email: str, name: str, password: str) -> str:
    settings = get_settings()
    db = Database(settings.resolved_database_url)
    try:
        await db.upgrade()
        async with db.session() as session:
            existing = await repo.account_by_email(session, email)
            hashed = await hash_password(password)
            if existing is not None:
                await repo.update_account(session, existing.id, is_admin=True, password_hash=hashed)
                return f"{existing.email} is now an admin (password replaced)."
            account = await repo.create_account(
                session,
                email=email,
                display_name=name,
                password_hash=hashed,
                is_admin=True,
                email_verified=True,
            )
            return f"Created admin {account.email}."
    finally:
        await db.dispose()


async def migrate() -> str:
    settings = get_settings()
    db = Database(settings.resolved_database_url)
    try:
        await db.upgrade()
        return "The database schema is up to date."
    finally:
        await db.dispose()


def admin_password() -> str:
    if path := os.environ.get("LLMDASH_ADMIN_PASSWORD_FILE", "").strip():
        with open(path, encoding="utf-8") as file:
            return file.read().rstrip("\r\n")
    return os.environ.get("LLMDASH_ADMIN_PASSWORD") or getpass.getpass("Password: ")


async def reindex(rebuild: bool = False, batch: int = 32, out: TextIO = sys.stderr) -> int:
    """Backfill the search index from the database; answers the number of comparisons indexed."""
    from sqlalchemy import select

    from backend.db.comparisons import batch_row_ids
    from backend.db.models import Comparison, JudgeRun
    from backend.search.embedding import make_embedder
    from backend.search.indexer import SearchIndexer
    from backend.search.vectors import make_vector_index

    settings = get_settings()
    embedder = make_embedder(settings)
    if embedder is None:
        raise SystemExit("SEARCH_EMBEDDER=none: there is no vector index to fill.")
    db = Database(settings.resolved_database_url)
    index = make_vector_index(settings)
    try:
        await db.upgrade()
        indexer = SearchIndexer(db, embedder, index)
        if rebuild:
            if not embedder.dimensions:
                await embedder.embed_queries(["dimensions"])
            await index.reset(embedder.model_id, embedder.dimensions)
        await indexer.open()
        async with db.session() as session:
            ids = list(
                (
                    await session.execute(
                        select(Comparison.id)
                        .where(
                            Comparison.id.not_in(select(JudgeRun.run_comparison_id)),
                            Comparison.id.not_in(batch_row_ids()),
                        )
                        .order_by(Comparison.created_at)
                    )
                ).scalars()
            )
        done = 0
        for start in range(0, len(ids), batch):
            await indexer.index_comparisons(ids[start : start + batch])
            done = min(start + batch, len(ids))
            _progress(out, done, len(ids))
        out.write("\n")
        return len(ids)
    finally:
        await index.close()
        await db.dispose()


def _progress(out: TextIO, done: int, total: int, width: int = 40) -> None:
    filled = width * done // max(total, 1)
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} comparisons")
    out.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-admin", help="create an admin account, or make one an admin")
    create.add_argument("email")
    create.add_argument("--name", default="")
    commands.add_parser("migrate", help="upgrade the database schema to the newest revision")
    rebuild = commands.add_parser("reindex", help="embed every comparison into the search index")
    rebuild.add_argument("--rebuild", action="store_true", help="empty the index first (new model)")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        print(asyncio.run(migrate()))
        return 0
    if args.command == "reindex":
        count = asyncio.run(reindex(args.rebuild))
        print(f"Indexed {count} comparisons.")
        return 0
    password = admin_password()
    if problem := password_problem(password):
        print(problem, file=sys.stderr)
        return 2
    print(asyncio.run(create_admin(args.email, args.name, password)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
