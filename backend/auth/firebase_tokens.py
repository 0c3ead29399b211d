"""Checks a Firebase ID token with firebase-admin and says, in words a person can act
on, why one is refused.

firebase-admin is a blocking SDK: :meth:`FirebaseTokenChecker.check` must run in a
thread (see :mod:`backend.auth.firebase`).

The Auth emulator mints unsigned tokens (``alg: none``) and firebase-admin, pointed
at an emulator, does not check signatures *or expiry* (it returns the payload as
is).  So this module checks ``exp``/``iat`` itself, and for emulator tokens also
compares the claims that grant something (uid, email, verified email, the ``role``
claim) with the emulator's record of the user, refusing any that claims more.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import firebase_admin
from firebase_admin import auth as firebase_auth
from firebase_admin import exceptions as firebase_errors
from google.auth.credentials import AnonymousCredentials

from backend.auth.accounts import AuthError
from backend.settings import Settings

EMULATOR_ENV = "FIREBASE_AUTH_EMULATOR_HOST"  # firebase-admin reads the emulator host only from here
ADMIN_ROLE = "admin"
HTTP_TIMEOUT_S = 10.0  # firebase-admin's default is 120 s: a stalled Firebase would stall every event
CLOCK_SKEW_S = 60  # an `iat` this far ahead of our clock is a clock difference, further is a forgery

EXPIRED = "Your sign-in has expired. Sign in again."
OTHER_PROJECT = "This sign-in belongs to another Firebase project."
INVALID = "The sign-in token is not valid."
REVOKED = "This account's sessions were revoked. Sign in again."
DISABLED = "This account is disabled."
UNAVAILABLE = "Your sign-in could not be checked right now. Try again in a moment."


@dataclass(frozen=True, slots=True)
class FirebaseIdentity:
    """What a verified ID token says about its user."""

    uid: str
    email: str
    email_verified: bool
    name: str
    role: str  # the `role` custom claim, "" without one


class FirebaseTokenChecker:
    """One named firebase-admin App per checker, created on first use (never at import)."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        if not settings.firebase_project_id:
            raise RuntimeError("AUTH_PROVIDER=firebase needs FIREBASE_PROJECT_ID.")
        if settings.environment == "production" and (
            settings.firebase_auth_emulator_host or os.environ.get(EMULATOR_ENV)
        ):
            raise RuntimeError("The Firebase Auth emulator accepts forged tokens: not in production.")
        self._settings = settings
        self._clock = clock
        self._app: firebase_admin.App | None = None
        self._lock = threading.Lock()

    @property
    def emulated(self) -> bool:
        return bool(self._settings.firebase_auth_emulator_host)

    def close(self) -> None:
        with self._lock:
            if self._app is not None:
                firebase_admin.delete_app(self._app)
                self._app = None

    def check(self, id_token: str) -> FirebaseIdentity:
        """The token's user, or AuthError with the reason. Blocking: one or two HTTP calls."""
        if not id_token or len(id_token) > 8192:
            raise AuthError(INVALID)
        app = self._firebase_app()
        if bool(os.environ.get(EMULATOR_ENV)) != self.emulated:
            # firebase-admin would skip signature checks without our emulator checks (or the reverse).
            raise RuntimeError(f"{EMULATOR_ENV} in the environment disagrees with the settings.")
        try:
            claims = firebase_auth.verify_id_token(id_token, app=app, check_revoked=True)
            self._check_times(claims)
            if self.emulated:
                self._check_against_record(id_token, claims, app)
        # The specific errors subclass the generic ones: they come first.
        except firebase_auth.ExpiredIdTokenError:
            raise AuthError(EXPIRED) from None
        except firebase_auth.RevokedIdTokenError:
            raise AuthError(REVOKED) from None
        except firebase_auth.UserDisabledError:
            raise AuthError(DISABLED) from None
        except firebase_auth.UserNotFoundError:
            raise AuthError(INVALID) from None
        except (firebase_auth.InvalidIdTokenError, ValueError):
            raise AuthError(OTHER_PROJECT if self._names_other_project(id_token) else INVALID) from None
        except firebase_errors.FirebaseError as exc:  # Firebase (or the emulator) unreachable or failing
            raise AuthError(UNAVAILABLE) from exc
        role = claims.get("role")
        return FirebaseIdentity(
            uid=str(claims["uid"]),
            email=str(claims.get("email") or ""),
            email_verified=claims.get("email_verified") is True,
            name=str(claims.get("name") or ""),
            role=role if isinstance(role, str) else "",
        )

    # --- the checks firebase-admin leaves to us --------------------------------------
    def _check_times(self, claims: dict[str, Any]) -> None:
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            raise AuthError(INVALID)
        now = self._clock()
        if exp <= now:
            raise AuthError(EXPIRED)
        # A future `iat` would also slip past the revocation check (iat < revoked-at).
        if iat > now + CLOCK_SKEW_S:
            raise AuthError(INVALID)

    def _check_against_record(self, id_token: str, claims: dict[str, Any], app: firebase_admin.App) -> None:
        """Emulator tokens carry no signature: refuse one that claims more than the user has."""
        header = _segment(id_token, 0)
        if header.get("alg") != "none" or id_token.split(".")[2]:
            raise AuthError(INVALID)  # not what the emulator mints
        user = firebase_auth.get_user(claims["uid"], app=app)
        recorded_role = (user.custom_claims or {}).get("role")
        if (
            claims.get("user_id", claims["uid"]) != claims["uid"]
            or (claims.get("email") or None) != (user.email or None)
            or (claims.get("email_verified") is True and not user.email_verified)
            or (claims.get("role") is not None and claims.get("role") != recorded_role)
        ):
            raise AuthError(INVALID)

    def _names_other_project(self, id_token: str) -> bool:
        """True if the (unverified) token was issued to some other project id."""
        try:
            audience = _segment(id_token, 1).get("aud")
        except AuthError:
            return False
        own = self._settings.firebase_project_id
        # A URL audience is a custom token, not another project's ID token.
        return isinstance(audience, str) and bool(audience) and "/" not in audience and audience != own

    # --- the firebase-admin App --------------------------------------------------------
    def _firebase_app(self) -> firebase_admin.App:
        with self._lock:
            if self._app is None:
                credential = self._point_sdk_at_emulator() if self.emulated else None
                self._app = firebase_admin.initialize_app(
                    credential,  # None: Application Default Credentials (get_user needs them)
                    {"projectId": self._settings.firebase_project_id, "httpTimeout": HTTP_TIMEOUT_S},
                    name=f"llmdash-auth-{uuid.uuid4().hex}",
                )
            return self._app

    def _point_sdk_at_emulator(self) -> AnonymousCredentials:
        """firebase-admin takes the emulator host only from the environment, process-wide."""
        host = self._settings.firebase_auth_emulator_host
        current = os.environ.get(EMULATOR_ENV, "")
        if current and current != host:
            raise RuntimeError(f"{EMULATOR_ENV} is {current!r} in the environment but {host!r} in settings.")
        os.environ[EMULATOR_ENV] = host
        return AnonymousCredentials()  # the emulator needs none; never look for real ones


def _segment(token: str, index: int) -> dict[str, Any]:
    """One JSON part of a JWT, decoded without any check."""
    try:
        part = token.split(".")[index]
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError, binascii.Error):
        raise AuthError(INVALID) from None
    if not isinstance(value, dict):
        raise AuthError(INVALID)
    return value
