"""Operator commands.

    python -m backend.admin create-admin EMAIL [--name NAME]
    python -m backend.admin migrate

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
                session, email=email, display_name=name, password_hash=hashed, is_admin=True
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-admin", help="create an admin account, or make one an admin")
    create.add_argument("email")
    create.add_argument("--name", default="")
    commands.add_parser("migrate", help="upgrade the database schema to the newest revision")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        print(asyncio.run(migrate()))
        return 0
    password = admin_password()
    if problem := password_problem(password):
        print(problem, file=sys.stderr)
        return 2
    print(asyncio.run(create_admin(args.email, args.name, password)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
