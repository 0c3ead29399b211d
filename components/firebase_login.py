"""Wrappers for the Firebase sign-in React components in assets/firebase_auth.jsx
(AUTH_PROVIDER=firebase)."""

from __future__ import annotations

import reflex as rx
from reflex.event import EventCallback, passthrough_event_spec

_LIBRARY = "$/public/firebase_auth.jsx"
_NPM = ["firebase@12.9.0"]
# Reflex declares an event trigger's arguments in its annotation, EventHandler[spec], which
# its __class_getitem__ turns into Annotated[EventHandler, spec]; to mypy EventHandler is a
# plain class and a call is no type, hence the narrow ignores on `on_token` below.


class FirebaseSignIn(rx.Component):
    """Google and email/password sign-in; `on_token` gets each ID token the SDK issues."""

    library = _LIBRARY
    tag = "FirebaseSignIn"
    lib_dependencies: list[str] = _NPM

    config: rx.Var[dict[str, str]]  # apiKey, authDomain, projectId, emulatorHost
    sign_out_first: rx.Var[bool]
    allow_sign_up: rx.Var[bool]
    message: rx.Var[str]
    on_token: rx.EventHandler[passthrough_event_spec(str)]  # type: ignore[type-arg, valid-type]


class FirebaseTokenKeeper(rx.Component):
    """Invisible: on a signed-in page, hands each renewed (hourly) ID token to `on_token`."""

    library = _LIBRARY
    tag = "FirebaseTokenKeeper"
    lib_dependencies: list[str] = _NPM

    config: rx.Var[dict[str, str]]
    on_token: rx.EventHandler[passthrough_event_spec(str)]  # type: ignore[type-arg, valid-type]


def firebase_sign_in(
    config: rx.Var[dict[str, str]],
    sign_out_first: rx.Var[bool],
    allow_sign_up: rx.Var[bool],
    message: rx.Var[str],
    on_token: EventCallback[str],
) -> rx.Component:
    return FirebaseSignIn.create(
        config=config,
        sign_out_first=sign_out_first,
        allow_sign_up=allow_sign_up,
        message=message,
        on_token=on_token,
    )


def firebase_token_keeper(config: rx.Var[dict[str, str]], on_token: EventCallback[str]) -> rx.Component:
    return FirebaseTokenKeeper.create(config=config, on_token=on_token)
