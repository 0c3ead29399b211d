"""A pane's run parameters as the person types them: one table, so that every parameter
(temperature, max tokens, and any added later) is checked, shown and sent the same way.

What a pane runs is what it shows: a value typed that is not valid stays on screen with its
message, is never replaced silently by the last valid one, and blocks Run until it is fixed.
To add a parameter: a field on PaneRow (state/rows.py), a row in PANE_PARAMS, and a
`param_input` in components/pane.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from backend.services.validation import (
    MAX_TOKENS_ERROR,
    TEMPERATURE_ERROR,
    parse_max_tokens,
    parse_temperature,
)
from state.rows import PaneRow
from state.run_option_fields import OPTION_FIELDS


@dataclass(frozen=True)
class PaneParam:
    parse: Callable[[str], Any]  # the value from the text typed; None when it is not valid
    error: str  # the message (a msgid, shown through t_var) while the text is not valid
    optional: bool = False  # an empty field means "not set" (sent as None), not an error


PANE_PARAMS: dict[str, PaneParam] = {
    "temperature": PaneParam(parse_temperature, TEMPERATURE_ERROR),
    "max_tokens": PaneParam(parse_max_tokens, MAX_TOKENS_ERROR),
}


def set_param(pane: PaneRow, name: str, text: str) -> bool:
    """Apply the text typed into the pane's `name` field; False (and the message on the pane,
    the text kept as typed) when it is not valid. Unknown names change nothing."""
    param = PANE_PARAMS.get(name)
    if param is None:
        return False
    stripped = text.strip()
    value = None if param.optional and not stripped else param.parse(stripped)
    if value is None and not (param.optional and not stripped):
        pane.field_errors = {**pane.field_errors, name: param.error}
        pane.typed = {**pane.typed, name: text}
        return False
    setattr(pane, name, value)
    pane.field_errors = {k: v for k, v in pane.field_errors.items() if k != name}
    pane.typed = {k: v for k, v in pane.typed.items() if k != name}
    return True


def copy_params(source: PaneRow, target: PaneRow) -> None:
    """`target` gets `source`'s parameters, invalid text and its messages included."""
    for name in PANE_PARAMS:
        setattr(target, name, getattr(source, name))
    target.typed = {k: v for k, v in source.typed.items() if k in PANE_PARAMS}
    kept = {k: v for k, v in target.field_errors.items() if k not in PANE_PARAMS}
    target.field_errors = kept | {k: v for k, v in source.field_errors.items() if k in PANE_PARAMS}


def params_of(pane: PaneRow) -> dict[str, Any]:
    """What the pane sends to the service: exactly the values its fields show."""
    return {name: getattr(pane, name) for name in PANE_PARAMS}


# Fields the person types into: a message on one of these is theirs to fix (the service's own
# messages, e.g. an unknown model, go when a new attempt starts).
def _typed(name: str) -> bool:
    return name in PANE_PARAMS or name in OPTION_FIELDS


def invalid_panes(panes: Iterable[PaneRow]) -> list[PaneRow]:
    """Panes with a parameter field whose text is not valid (Run refuses while there are any)."""
    return [p for p in panes if any(_typed(name) for name in p.field_errors)]


def clear_service_errors(panes: Iterable[PaneRow]) -> None:
    """Before a new attempt: drop the service's last messages (e.g. an unknown model); the
    person's invalid typing stays until they fix it."""
    for pane in panes:
        pane.field_errors = {k: v for k, v in pane.field_errors.items() if _typed(k)}
