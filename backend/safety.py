"""Settings that must never reach production, checked before the app serves anyone.

Development keeps its conveniences (a generated encryption key, the Firebase
emulator, open sign-up with the first account as admin); with
ENVIRONMENT=production each of them is a refusal to start, listing every
problem at once so one restart fixes them all.
"""

from __future__ import annotations

import os

from sqlalchemy import func, select

from backend.db.engine import Database
from backend.db.models import User
from backend.settings import Settings

# A key that appears in docs or examples is as good as none.
KNOWN_EXAMPLE_KEYS = frozenset({"", "changeme", "change-me", "secret", "dev", "development"})


class UnsafeSettings(RuntimeError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "Refusing to start in production:\n" + "\n".join(f"- {problem}" for problem in problems)
        )
        self.problems = problems


def static_problems(settings: Settings) -> list[str]:
    """Problems visible from settings and the environment alone (also checked by workers)."""
    problems = []
    if settings.firebase_auth_emulator_host or os.environ.get("FIREBASE_AUTH_EMULATOR_HOST"):
        problems.append("FIREBASE_AUTH_EMULATOR_HOST is set: the emulator accepts unsigned tokens. Unset it.")
    if settings.encryption_key.get_secret_value().strip().lower() in KNOWN_EXAMPLE_KEYS:
        problems.append(
            "ENCRYPTION_KEY is empty or an example value: set a Fernet key from your secret store "
            '(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").'
        )
    return problems


async def check_production(settings: Settings, db: Database) -> None:
    """Raise UnsafeSettings if ENVIRONMENT=production and anything here is unsafe."""
    if settings.environment != "production":
        return
    problems = static_problems(settings)
    if settings.auth_provider == "builtin" and settings.allow_sign_up:
        async with db.session() as session:
            admins = (await session.execute(select(func.count(User.id)).where(User.is_admin))).scalar_one()
        if not admins:
            problems.append(
                "Sign-up is open and there is no admin yet: whoever signs up first would become the "
                "admin. Create one with `python -m backend.admin create-admin EMAIL`, or set "
                "ALLOW_SIGN_UP=false."
            )
    if problems:
        raise UnsafeSettings(problems)
