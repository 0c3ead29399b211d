"""Accounts, sessions, API tokens and permissions. Never imports Reflex."""

from backend.auth.accounts import AccountService, AuthError, SignedIn, SignInLocked
from backend.auth.permissions import AccessDenied, Action, Principal, Role, allowed

__all__ = [
    "AccessDenied",
    "AccountService",
    "Action",
    "AuthError",
    "Principal",
    "Role",
    "SignInLocked",
    "SignedIn",
    "allowed",
]
