"""Pass/fail checks on each answer of a batch: contains, regex, JSON valid, max latency, max cost.

An assertion's text value may use the row's ``{{variables}}`` (say "contains {{expected}}"),
filled per row before the check. A cell passes when its run is done and every assertion holds;
a cell still running has no verdict yet (None).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.batching.variables import render

AssertionKind = Literal["contains", "regex", "json_valid", "max_latency_ms", "max_cost_usd"]
MAX_ASSERTIONS = 10
MAX_PATTERN_CHARS = 500


class AssertionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: AssertionKind
    value: str = Field(
        default="",
        max_length=MAX_PATTERN_CHARS,
        description="contains: the text; regex: the pattern (Python syntax); max_latency_ms and "
        "max_cost_usd: the number; json_valid: unused. Text may use the row's {{variables}}.",
    )

    @model_validator(mode="after")
    def _value_fits_kind(self) -> AssertionSpec:
        if self.kind in ("contains", "regex") and not self.value:
            raise ValueError(f"A {self.kind} assertion needs a value.")
        if self.kind == "regex" and "{{" not in self.value:
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"The regex {self.value!r} is not valid: {exc}.") from exc
        if self.kind in ("max_latency_ms", "max_cost_usd"):
            try:
                number = float(self.value)
            except ValueError:
                raise ValueError(f"A {self.kind} assertion needs a number, not {self.value!r}.") from None
            if not number >= 0:
                raise ValueError(f"A {self.kind} assertion needs a number of 0 or more.")
        return self

    @property
    def label(self) -> str:
        return self.kind if self.kind == "json_valid" else f"{self.kind} {self.value}"


@dataclass(frozen=True, slots=True)
class CellFacts:
    """What the checks read of one answer."""

    status: str
    output_text: str
    total_ms: float | None
    cost_usd: float


def failed_assertions(
    specs: Sequence[AssertionSpec], cell: CellFacts, variables: Mapping[str, object]
) -> list[str] | None:
    """The labels of the assertions the cell fails (empty: it passes); None while it runs."""
    if cell.status in ("queued", "running", "pending"):
        return None
    if cell.status != "done":
        return [cell.status]
    return [spec.label for spec in specs if not _holds(spec, cell, variables)]


def _holds(spec: AssertionSpec, cell: CellFacts, variables: Mapping[str, object]) -> bool:
    value = render(spec.value, variables)
    match spec.kind:
        case "contains":
            return value in cell.output_text
        case "regex":
            try:
                return re.search(value, cell.output_text) is not None
            except re.error:  # a pattern made invalid by a row's value fails that row
                return False
        case "json_valid":
            return _is_json(cell.output_text)
        case "max_latency_ms":
            return cell.total_ms is not None and cell.total_ms <= float(value)
        case "max_cost_usd":
            return cell.cost_usd <= float(value)
    return False  # pragma: no cover - every kind is matched above


def _is_json(text: str) -> bool:
    """Valid JSON, also inside a Markdown code fence (models often wrap it in one)."""
    stripped = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*\n(.*)\n```", stripped, flags=re.DOTALL)
    try:
        json.loads(fenced.group(1) if fenced else stripped)
    except ValueError:
        return False
    return True
