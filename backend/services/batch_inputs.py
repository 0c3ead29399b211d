"""What the templates, datasets and batches API and page send in, with the rules each field
keeps (a 422 names the field at fault)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backend.batching.assertions import MAX_ASSERTIONS, AssertionSpec
from backend.runs_model import DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE
from backend.services.validation import MAX_PANES, MAX_PROMPT_CHARS, MAX_TOKENS_RANGE, TEMPERATURE_RANGE

NAME_MAX_CHARS = 200


class TemplateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=NAME_MAX_CHARS)
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="Text with {{variables}}.")
    system_prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)

    @field_validator("name", "prompt", "system_prompt")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("Text must not contain NUL (\\x00) characters.")
        return value


class DatasetInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=NAME_MAX_CHARS)
    csv: str = Field(description="The table as CSV: the first line names the columns; at most 1,000 rows.")


class BatchInput(BaseModel):
    """A batch: a saved template (or a prompt given here), a saved dataset (or CSV, or rows given
    here), the models, their settings and the assertions each answer is checked against."""

    model_config = ConfigDict(extra="forbid")

    project_id: str | None = Field(default=None, max_length=64)
    name: str = Field(default="", max_length=NAME_MAX_CHARS)
    template_id: str | None = Field(default=None, max_length=64)
    prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    system_prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    dataset_id: str | None = Field(default=None, max_length=64)
    csv: str | None = None
    columns: list[str] | None = None
    rows: list[dict[str, str]] | None = None
    models: list[str] = Field(min_length=1, max_length=MAX_PANES)
    temperature: float = Field(default=DEFAULT_TEMPERATURE, ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1])
    max_tokens: int = Field(default=DEFAULT_MAX_TOKENS, ge=MAX_TOKENS_RANGE[0], le=MAX_TOKENS_RANGE[1])
    assertions: list[AssertionSpec] = Field(default_factory=list, max_length=MAX_ASSERTIONS)
