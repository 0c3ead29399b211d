"""`@with_user` keeps what Reflex reads from a handler: its parameters and their types (minus
the injected user), whether it is a coroutine or an async generator, and the background mark."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import reflex as rx
from reflex.event import EventHandler

from backend.auth import Principal
from state.account import AccountState
from state.compare import CompareState
from state.current_user import CHECKS_SESSION, with_user
from state.keys import KeysState


@pytest.mark.parametrize(
    ("handler", "parameters"),
    [
        (AccountState.load, ["self"]),
        (AccountState.revoke_token, ["self", "token_id"]),
        (KeysState.delete_key, ["self", "provider", "deployment"]),
        (CompareState.retry_pane, ["self", "pane_id"]),
        (CompareState.stream, ["self"]),
    ],
)
def test_reflex_sees_the_parameters_without_the_user(handler: Any, parameters: list[str]) -> None:
    assert isinstance(handler, EventHandler)  # what a state's handler is at run time
    assert list(handler.get_parameters()) == parameters
    hints = handler._get_type_hints()
    assert "user" not in hints
    assert set(parameters[1:]) <= set(hints)
    assert getattr(handler.fn, CHECKS_SESSION)


def test_argument_types_and_kinds_survive() -> None:
    assert KeysState.delete_key._get_type_hints()["deployment"] is bool  # type: ignore[attr-defined]
    assert inspect.iscoroutinefunction(AccountState.load.fn)
    stream = CompareState.stream
    assert inspect.isasyncgenfunction(stream.fn) and stream.is_background  # type: ignore[attr-defined]
    assert stream.fn.__qualname__ == "CompareState.stream"


def test_a_method_without_a_user_parameter_is_refused() -> None:
    async def no_user(self: rx.State) -> None:
        return None

    with pytest.raises(TypeError, match="needs"):
        with_user(no_user)  # type: ignore[arg-type]


def test_a_sync_method_is_refused() -> None:
    def sync(self: rx.State, user: Principal) -> None:
        return None

    with pytest.raises(TypeError, match="async"):
        with_user(sync)  # type: ignore[arg-type]
