"""A run's optional provider parameters (top_p, stop sequences, penalties, JSON output) and
the images of its prompt, declared once.

`RunOptions` travels inside `RunParams` (the run's stored `params` JSON), on the queue's
`RunTask` and in the adapters' `ChatRequest`; each field is sent to a provider only when it is
set, and the catalog (backend/catalog/models.toml) says which models take which
(`CAPABILITIES`). Unset fields are left out of the stored JSON, so runs saved before these
options existed read back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend.i18n import N_

# Capability names in the catalog; a parameter is shown and sent only for models that list it.
TOP_P = "top_p"
SEED = "seed"
STOP = "stop"
PRESENCE_PENALTY = "presence_penalty"
FREQUENCY_PENALTY = "frequency_penalty"
JSON_MODE = "json_mode"  # "any JSON object" output
JSON_SCHEMA = "json_schema"  # output that follows a given JSON schema
VISION = "vision"  # images in the prompt
CAPABILITIES = frozenset(
    {TOP_P, SEED, STOP, PRESENCE_PENALTY, FREQUENCY_PENALTY, JSON_MODE, JSON_SCHEMA, VISION}
)

RESPONSE_FORMATS = ("text", "json", "json_schema")
TOP_P_RANGE = (0.0, 1.0)
PENALTY_RANGE = (-2.0, 2.0)
MAX_STOP_SEQUENCES = 4  # OpenAI's limit, the smallest of the providers'
MAX_STOP_CHARS = 100
MAX_SCHEMA_CHARS = 20_000

# Literal text (the catalogs' msgids), checked against the ranges they state.
TOP_P_ERROR = N_("Top P must be between 0.0 and 1.0.")
PENALTY_ERROR = N_("Penalties must be between -2.0 and 2.0.")
SEED_ERROR = N_("Seed must be a whole number from 0 to 2,147,483,647.")
STOP_ERROR = N_("At most 4 stop sequences, one per line, each at most 100 characters.")
SCHEMA_ERROR = N_("The JSON schema must be a JSON object of at most 20,000 characters.")
assert f"Top P must be between {TOP_P_RANGE[0]} and {TOP_P_RANGE[1]}." == TOP_P_ERROR
assert f"Penalties must be between {PENALTY_RANGE[0]} and {PENALTY_RANGE[1]}." == PENALTY_ERROR
assert f"At most {MAX_STOP_SEQUENCES} stop sequences" in STOP_ERROR and f"{MAX_STOP_CHARS} char" in STOP_ERROR
assert f"{MAX_SCHEMA_CHARS:,} characters" in SCHEMA_ERROR
MAX_SEED = 2**31 - 1


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The optional parameters of one run; None / empty / "text" means "not sent"."""

    top_p: float | None = None
    stop: tuple[str, ...] = ()
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    response_format: str = "text"  # "text" | "json" (any JSON object) | "json_schema"
    json_schema: Mapping[str, Any] | None = None  # with response_format "json_schema"

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> RunOptions:
        """From a run's stored params JSON (other keys are ignored)."""
        stored = stored or {}
        schema = stored.get("json_schema")
        return cls(
            top_p=_float_or_none(stored.get("top_p")),
            stop=tuple(str(s) for s in stored.get("stop") or ()),
            presence_penalty=_float_or_none(stored.get("presence_penalty")),
            frequency_penalty=_float_or_none(stored.get("frequency_penalty")),
            response_format=str(stored.get("response_format") or "text"),
            json_schema=dict(schema) if isinstance(schema, Mapping) else None,
        )

    def stored(self) -> dict[str, Any]:
        """The set fields only, as they go into the params JSON."""
        out: dict[str, Any] = {}
        for key in ("top_p", "presence_penalty", "frequency_penalty"):
            if (value := getattr(self, key)) is not None:
                out[key] = value
        if self.stop:
            out["stop"] = list(self.stop)
        if self.response_format != "text":
            out["response_format"] = self.response_format
        if self.response_format == "json_schema" and self.json_schema is not None:
            out["json_schema"] = dict(self.json_schema)
        return out

    def used(self) -> frozenset[str]:
        """The capabilities these options need from a model."""
        needs = {
            TOP_P: self.top_p is not None,
            STOP: bool(self.stop),
            PRESENCE_PENALTY: self.presence_penalty is not None,
            FREQUENCY_PENALTY: self.frequency_penalty is not None,
            JSON_MODE: self.response_format == "json",
            JSON_SCHEMA: self.response_format == "json_schema",
        }
        return frozenset(name for name, needed in needs.items() if needed)

    def cache_part(self) -> str:
        """A canonical text of the set fields, for the response cache's key ("" when none)."""
        stored = self.stored()
        return json.dumps(stored, sort_keys=True, separators=(",", ":")) if stored else ""


NO_OPTIONS = RunOptions()


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image of a prompt in the file store (backend/files): its key and media type."""

    key: str
    media_type: str


@dataclass(frozen=True, slots=True)
class ImageData:
    """An image's bytes, as an adapter sends them."""

    media_type: str
    data: bytes


def parse_top_p(text: str) -> tuple[float | None, bool]:
    """(value, ok) for a Top P field as typed on the page: empty means "not sent"."""
    return _parse_float(text, TOP_P_RANGE)


def parse_penalty(text: str) -> tuple[float | None, bool]:
    return _parse_float(text, PENALTY_RANGE)


def parse_seed(text: str) -> tuple[int | None, bool]:
    if not text.strip():
        return None, True
    try:
        seed = int(text)
    except ValueError:
        return None, False
    return (seed, True) if 0 <= seed <= MAX_SEED else (None, False)


def parse_stop(text: str) -> tuple[tuple[str, ...], bool]:
    """Stop sequences typed one per line (blank lines ignored)."""
    sequences = tuple(line for line in text.splitlines() if line.strip())
    ok = len(sequences) <= MAX_STOP_SEQUENCES and all(len(s) <= MAX_STOP_CHARS for s in sequences)
    return (sequences, True) if ok else ((), False)


def parse_schema(text: str) -> tuple[dict[str, Any] | None, bool]:
    if not text.strip():
        return None, True
    if len(text) > MAX_SCHEMA_CHARS:
        return None, False
    try:
        schema = json.loads(text)
    except ValueError:
        return None, False
    return (schema, True) if isinstance(schema, dict) and schema else (None, False)


def _parse_float(text: str, bounds: tuple[float, float]) -> tuple[float | None, bool]:
    if not text.strip():
        return None, True
    try:
        value = float(text)
    except ValueError:
        return None, False
    return (value, True) if bounds[0] <= value <= bounds[1] else (None, False)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
