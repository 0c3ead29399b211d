"""Input rules for a comparison, with messages that name the field at fault.

Both the page and the API call `validate_comparison`; errors come back keyed by
field path ("prompt", "panes", "panes.2.temperature") so each can be shown next
to its field or returned in a 422.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from backend.catalog import ModelInfo, estimate_tokens, image_tokens
from backend.files.images import MAX_IMAGES, TOO_MANY_ERROR
from backend.i18n import N_, Message
from backend.run_options import (
    MAX_SEED,
    MAX_STOP_CHARS,
    MAX_STOP_SEQUENCES,
    PENALTY_ERROR,
    PENALTY_RANGE,
    SCHEMA_ERROR,
    SEED_ERROR,
    STOP_ERROR,
    TOP_P_ERROR,
    TOP_P_RANGE,
    RunOptions,
    parse_schema,
)
from backend.runs_model import DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE
from backend.services.capability_rules import capability_errors

MAX_PANES = 8
MAX_PROMPT_CHARS = 400_000  # far beyond any context window; a hard ceiling on request size
TEMPERATURE_RANGE = (0.0, 2.0)
MAX_TOKENS_RANGE = (1, 32_768)
DEFAULT_CONTEXT_WINDOW = 8_192
# Literal text (the catalogs' msgids), checked against the ranges they state.
TEMPERATURE_ERROR = N_("Temperature must be between 0.0 and 2.0.")
MAX_TOKENS_ERROR = N_("Max tokens must be a whole number from 1 to 32,768.")
assert f"Temperature must be between {TEMPERATURE_RANGE[0]} and {TEMPERATURE_RANGE[1]}." == TEMPERATURE_ERROR
assert (
    f"Max tokens must be a whole number from {MAX_TOKENS_RANGE[0]} to {MAX_TOKENS_RANGE[1]:,}."
    == MAX_TOKENS_ERROR
)


class PaneInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=200)
    temperature: float = Field(default=DEFAULT_TEMPERATURE, ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1])
    max_tokens: int = Field(default=DEFAULT_MAX_TOKENS, ge=MAX_TOKENS_RANGE[0], le=MAX_TOKENS_RANGE[1])
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    # Optional parameters (backend/run_options.py): sent only when set, refused for a model whose
    # catalog entry does not list them.
    top_p: float | None = Field(default=None, ge=TOP_P_RANGE[0], le=TOP_P_RANGE[1])
    stop: list[str] = Field(default_factory=list, description="Stop sequences (at most 4).")
    presence_penalty: float | None = Field(default=None, ge=PENALTY_RANGE[0], le=PENALTY_RANGE[1])
    frequency_penalty: float | None = Field(default=None, ge=PENALTY_RANGE[0], le=PENALTY_RANGE[1])
    response_format: Literal["text", "json", "json_schema"] = Field(
        default="text", description='"json": any JSON object; "json_schema": JSON following `json_schema`.'
    )
    json_schema: dict[str, Any] | None = None

    @field_validator("stop")
    @classmethod
    def _stop_sequences(cls, value: list[str]) -> list[str]:
        if len(value) > MAX_STOP_SEQUENCES or any(not s or len(s) > MAX_STOP_CHARS for s in value):
            raise PydanticCustomError("stop_sequences", STOP_ERROR)
        return value

    @model_validator(mode="after")
    def _schema_with_its_format(self) -> PaneInput:
        if (self.response_format == "json_schema") != (self.json_schema is not None):
            raise PydanticCustomError("json_schema", SCHEMA_ERROR)
        if self.json_schema is not None and parse_schema(json.dumps(self.json_schema))[1] is False:
            raise PydanticCustomError("json_schema", SCHEMA_ERROR)
        return self

    def options(self) -> RunOptions:
        return RunOptions(
            top_p=self.top_p,
            stop=tuple(self.stop),
            presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
            response_format=self.response_format,
            json_schema=self.json_schema,
        )


class ComparisonInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(max_length=MAX_PROMPT_CHARS)
    system_prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    panes: list[PaneInput] = Field(max_length=MAX_PANES)
    images: list[str] = Field(
        default_factory=list,
        max_length=MAX_IMAGES,
        description="Ids of images uploaded with POST /api/v1/images, sent with the prompt "
        "(every pane's model must accept images).",
    )
    project_id: str | None = None
    use_cache: bool = Field(
        default=False,
        description="Replay cached answers even at temperature > 0 (temperature 0 always uses the cache).",
    )
    blind: bool = Field(
        default=False,
        description='Label the panes "Model A", "Model B" … in a random order; model ids, costs and '
        "provider errors stay hidden until you vote or reveal.",
    )
    battle: bool = Field(
        default=False,
        description="Ignore `panes`: two available models are drawn at random and run blind.",
    )

    @field_validator("prompt", "system_prompt", "project_id")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        # PostgreSQL cannot store NUL in text, and no model needs one: refused on every database.
        if value is not None and "\x00" in value:
            raise PydanticCustomError("nul_character", "Text must not contain NUL (\\x00) characters.")
        return value


class InvalidComparison(ValueError):
    """Raised with every problem found, keyed by field path."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def parse_temperature(text: str) -> float | None:
    """A pane's temperature as typed on the page, or None unless it is a number in range."""
    try:
        temperature = float(text)
    except ValueError:
        return None
    return temperature if TEMPERATURE_RANGE[0] <= temperature <= TEMPERATURE_RANGE[1] else None


def parse_max_tokens(text: str) -> int | None:
    """A pane's max tokens as typed on the page, or None unless it is a whole number in range."""
    try:
        max_tokens = int(text)
    except ValueError:
        return None
    return max_tokens if MAX_TOKENS_RANGE[0] <= max_tokens <= MAX_TOKENS_RANGE[1] else None


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def error_loc(error_type: str, loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Where an error is shown: a pane-level rule on its field, a stop sequence's on the list."""
    if error_type == "json_schema" and "json_schema" not in loc:
        return (*loc, "json_schema")
    if "stop" in loc:
        return loc[: loc.index("stop") + 1]
    return loc


def friendly_message(error_type: str, msg: str, loc: tuple[int | str, ...]) -> str:
    field = str(loc[-1]) if loc else "value"
    if field == "panes" and error_type == "too_long":
        return Message("At most {n} panes can run at once.", n=MAX_PANES)
    if field == "prompt" and error_type == "string_too_long":
        return Message("The prompt is longer than {n:,} characters.", n=MAX_PROMPT_CHARS)
    if field == "temperature":
        return TEMPERATURE_ERROR
    if field == "max_tokens":
        return MAX_TOKENS_ERROR
    if field == "top_p":
        return TOP_P_ERROR
    if field in ("presence_penalty", "frequency_penalty"):
        return PENALTY_ERROR
    if field == "seed":
        return SEED_ERROR
    if "stop" in loc:
        return STOP_ERROR
    if field == "images" and error_type == "too_long":
        return TOO_MANY_ERROR
    if error_type == "json_schema" or "json_schema" in loc:
        return SCHEMA_ERROR
    return msg


def parse_comparison(payload: object) -> ComparisonInput:
    """Structural validation (types and ranges) of a raw payload."""
    if isinstance(payload, ComparisonInput):
        return payload
    try:
        return ComparisonInput.model_validate(payload)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            loc = error_loc(err["type"], tuple(err["loc"]))
            errors.setdefault(_field_path(loc), friendly_message(err["type"], err["msg"], loc))
        raise InvalidComparison(errors) from None


def check_semantics(
    data: ComparisonInput,
    models: dict[str, ModelInfo | None],
    unavailable: dict[str, str],
) -> None:
    """Rules that need the catalog: empty prompt, unknown or unavailable model, context size.

    `models` maps each requested model id to its catalog entry (None when the
    model is valid but not in the catalog, e.g. discovered on Ollama);
    `unavailable` maps model ids to the reason their provider cannot be used.
    """
    errors: dict[str, str] = {}
    if not data.prompt.strip():
        errors["prompt"] = N_("Enter a prompt.")
    if not data.panes:
        errors["panes"] = N_("Pick at least one model.")
    prompt_tokens = estimate_tokens(data.system_prompt + "\n" + data.prompt)
    for index, pane in enumerate(data.panes):
        per_image = image_tokens(pane.model)  # each image counts as a fixed number of tokens
        key = f"panes.{index}.model"
        if pane.model in unavailable:
            errors[key] = unavailable[pane.model]
            continue
        info = models.get(pane.model)
        window = info.context_window if info else DEFAULT_CONTEXT_WINDOW
        tokens = prompt_tokens + per_image * len(data.images)
        if tokens + pane.max_tokens > window and "prompt" not in errors:
            name = info.display_name if info else pane.model
            images = len(data.images)
            errors["prompt"] = context_message(tokens, images, per_image, pane.max_tokens, name, window)
    for key, message in capability_errors(data, models).items():
        errors.setdefault(key, message)
    if errors:
        raise InvalidComparison(errors)


_TOO_LARGE = {
    ("prompt", False): N_(
        "The prompt is about {tokens:,} tokens; with max tokens {max_tokens:,} "
        "it exceeds {model}'s context window of {window:,} tokens."
    ),
    ("prompt", True): N_(
        "The prompt is about {tokens:,} tokens, counting {images} image(s) at {per_image:,} tokens "
        "each; with max tokens {max_tokens:,} it exceeds {model}'s context window of {window:,} tokens."
    ),
    ("conversation", False): N_(
        "The conversation is about {tokens:,} tokens; with max tokens "
        "{max_tokens:,} it exceeds {model}'s context window of {window:,} tokens."
    ),
    ("conversation", True): N_(
        "The conversation is about {tokens:,} tokens, counting {images} image(s) at {per_image:,} "
        "tokens each; with max tokens {max_tokens:,} it exceeds {model}'s context window of "
        "{window:,} tokens."
    ),
}


def context_message(
    tokens: int, images: int, per_image: int, max_tokens: int, model: str, window: int, what: str = "prompt"
) -> Message:
    """Why a prompt (or a follow-up's whole conversation) does not fit the model's context
    window; with images, how many tokens they were counted as."""
    figures: dict[str, object] = {
        "tokens": tokens,
        "max_tokens": max_tokens,
        "model": model,
        "window": window,
    }
    if images:
        figures |= {"images": images, "per_image": per_image}
    return Message(_TOO_LARGE[(what, bool(images))], **figures)
