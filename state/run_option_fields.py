"""A pane's optional parameters (top_p, seed, stop, penalties, output format) as the person types
them: kept as typed, checked field by field (a value that is not valid stays on screen with its
message and blocks Run, as the temperature does: state/pane_params.py), and sent with Run only
for the parameters the pane's model takes. Pure functions over rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from backend.run_options import (
    FREQUENCY_PENALTY,
    JSON_MODE,
    JSON_SCHEMA,
    PENALTY_ERROR,
    PRESENCE_PENALTY,
    RESPONSE_FORMATS,
    SCHEMA_ERROR,
    SEED,
    SEED_ERROR,
    STOP,
    STOP_ERROR,
    TOP_P,
    TOP_P_ERROR,
    parse_penalty,
    parse_schema,
    parse_seed,
    parse_stop,
    parse_top_p,
)

if TYPE_CHECKING:
    from backend.runs_model import RunParams
    from state.rows import PaneRow

# field -> (parse the typed text into (value, ok), the message when not ok)
_PARSERS: dict[str, tuple[Callable[[str], tuple[Any, bool]], str]] = {
    TOP_P: (parse_top_p, TOP_P_ERROR),
    SEED: (parse_seed, SEED_ERROR),
    STOP: (parse_stop, STOP_ERROR),
    PRESENCE_PENALTY: (parse_penalty, PENALTY_ERROR),
    FREQUENCY_PENALTY: (parse_penalty, PENALTY_ERROR),
    "json_schema": (parse_schema, SCHEMA_ERROR),
}
OPTION_FIELDS = (*_PARSERS, "response_format")


def set_option(pane: PaneRow, field: str, text: str) -> None:
    """Show `text` in the pane's field as typed; while it is not valid, the field's message is on
    the pane and Run refuses (what a pane runs is what it shows)."""
    if field == "response_format":
        if text in RESPONSE_FORMATS:
            pane.response_format = text
        return
    parse, error = _PARSERS[field]
    _, ok = parse(text)
    setattr(pane, field, text if field == STOP or not ok else text.strip())
    others = {k: v for k, v in pane.field_errors.items() if k != field}
    pane.field_errors = others if ok else {**others, field: error}


def copy_options(source: PaneRow, target: PaneRow) -> None:
    """The options, and whether they are open, of a pane whose model changed (invalid text and
    its message included)."""
    for field in (*OPTION_FIELDS, "show_options"):
        setattr(target, field, getattr(source, field))
    kept = {k: v for k, v in target.field_errors.items() if k not in OPTION_FIELDS}
    target.field_errors = kept | {k: v for k, v in source.field_errors.items() if k in OPTION_FIELDS}


def show_saved_options(pane: PaneRow, params: RunParams) -> None:
    """A saved run's parameters in its pane's fields."""
    options = params.options
    pane.seed = "" if params.seed is None else str(params.seed)
    pane.top_p = "" if options.top_p is None else str(options.top_p)
    pane.stop = "\n".join(options.stop)
    pane.presence_penalty = "" if options.presence_penalty is None else str(options.presence_penalty)
    pane.frequency_penalty = "" if options.frequency_penalty is None else str(options.frequency_penalty)
    pane.response_format = options.response_format
    pane.json_schema = json.dumps(dict(options.json_schema), indent=2) if options.json_schema else ""


def pane_payload(pane: PaneRow) -> dict[str, Any]:
    """What Run sends for the pane: its settings, and of the optional ones those its model takes."""
    payload: dict[str, Any] = {
        "model": pane.model,
        "temperature": pane.temperature,
        "max_tokens": pane.max_tokens,
    }
    caps = set(pane.caps)
    for field in (TOP_P, SEED, STOP, PRESENCE_PENALTY, FREQUENCY_PENALTY):
        text = getattr(pane, field)
        value, ok = _PARSERS[field][0](text)
        if field in caps and ok and value not in (None, ()):
            payload[field] = list(value) if field == STOP else value
    wanted = {"json": JSON_MODE, "json_schema": JSON_SCHEMA}.get(pane.response_format)
    if wanted in caps:
        payload["response_format"] = pane.response_format
        if pane.response_format == "json_schema":
            payload["json_schema"] = parse_schema(pane.json_schema)[0]  # None: the service says it is missing
    return payload
