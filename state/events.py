"""`event`, Reflex's `rx.event` with the type mypy should see, and `Followup`, what a handler
may answer with.

`rx.event` is a class whose `__new__` returns an EventCallback (typed for pyright); mypy
takes any `__new__` to return an instance of its class, so every decorated handler would be
an `EventNamespace` to it and no handler could be passed where an event is expected. At run
time `event` is `rx.event` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVarTuple, Unpack, overload

import reflex as rx
from reflex.event import EventCallback, EventHandler, EventSpec

A = TypeVarTuple("A")

# What an event handler returns for Reflex to run next: a redirect or a script (EventSpec),
# another handler of a state (EventCallback to mypy, EventHandler at run time), a list of
# them, or None for nothing.
FollowupEvent: TypeAlias = EventSpec | EventHandler | EventCallback[()]
Followup: TypeAlias = FollowupEvent | Sequence[FollowupEvent] | None

if TYPE_CHECKING:

    @overload
    def event(func: Callable[[Any, Unpack[A]], Any], /) -> EventCallback[*A]: ...

    @overload
    def event(
        *, background: bool = False
    ) -> Callable[[Callable[[Any, Unpack[A]], Any]], EventCallback[*A]]: ...

    def event(func: Callable[[Any, Unpack[A]], Any] | None = None, /, *, background: bool = False) -> Any: ...

else:
    event = rx.event
