"""`@with_user`: hands a state method the signed-in user, or sends a signed-out tab to login.

Like FastAPI's CurrentUser dependency: the method declares `user: Principal` as its first
parameter after `self`, and the decorator resolves it from the tab's session cookie, checked
against the server on every call (an expired, revoked or unknown token is no user), so
revoking a session takes effect on that browser's next event. Without a user the method
does not run: the tab is redirected to /login, coming back here afterwards.

Reflex reads an event handler's parameters and their types to build the event's arguments
from the browser's payload, so the wrapper's signature and annotations are the method's
minus `user`. Put it under `@rx.event` (which marks background tasks on the function it
gets). Private helpers may use it too, when only some paths of a handler need the user.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar, overload

import reflex as rx
from reflex.event import EventSpec

from backend.auth import Principal
from state.auth import AuthState, signed_in_user, signed_in_user_for, to_login

# Marks a function as wrapped here: the security test that every handler checks the session
# recognises the decorator by it.
CHECKS_SESSION = "_checks_session"

S = TypeVar("S", bound=rx.State)
P = ParamSpec("P")
R = TypeVar("R")
Y = TypeVar("Y")


@overload
def with_user(
    method: Callable[Concatenate[S, Principal, P], AsyncGenerator[Y, None]],
) -> Callable[Concatenate[S, P], AsyncGenerator[Y | EventSpec, None]]: ...


@overload
def with_user(
    method: Callable[Concatenate[S, Principal, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R | EventSpec]]: ...


def with_user(method: Callable[..., Any]) -> Callable[..., Any]:
    wrapper: Callable[..., Any]
    if inspect.isasyncgenfunction(method):

        @functools.wraps(method)
        async def stream_with_user(self: rx.State, *args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
            # A background event may read its state only under the state lock, and must not
            # hold it during the database round trip: read the token under the lock, check it
            # after. (On a state that is not a background task's proxy the lock is a no-op.)
            async with self:
                token = (await self.get_state(AuthState))._session_token
                login = to_login(self)
            user = await signed_in_user_for(token)
            if user is None:
                yield login
                return
            async for update in method(self, user, *args, **kwargs):
                yield update

        wrapper = stream_with_user
    elif inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def call_with_user(self: rx.State, *args: Any, **kwargs: Any) -> Any:
            user = await signed_in_user(self)
            if user is None:
                return to_login(self)
            return await method(self, user, *args, **kwargs)

        wrapper = call_with_user
    else:
        raise TypeError(f"{method.__qualname__}: @with_user needs an async method (the check is async)")
    _drop_user_parameter(wrapper, method)
    setattr(wrapper, CHECKS_SESSION, True)
    return wrapper


def _drop_user_parameter(wrapper: Callable[..., Any], method: Callable[..., Any]) -> None:
    """The signature Reflex sees: the method's, without the parameter filled in here."""
    signature = inspect.signature(method)
    parameters = list(signature.parameters.values())
    if len(parameters) < 2 or parameters[1].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        raise TypeError(f"{method.__qualname__}: @with_user needs (self, user: Principal, ...)")
    user = parameters[1].name
    # inspect.signature reads __signature__ before following __wrapped__ to the method.
    wrapper.__dict__["__signature__"] = signature.replace(parameters=[parameters[0], *parameters[2:]])
    wrapper.__annotations__ = {k: v for k, v in method.__annotations__.items() if k != user}
