"""Which pane settings a model takes: a parameter its catalog entry does not list, or an image
for a model without vision, is refused with a message on the pane's field.

The seed is the exception: it was accepted for every model before the catalog listed
capabilities, so a model without one simply does not get it (as Anthropic's API has none)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.catalog import ModelInfo, load_catalog
from backend.i18n import N_, Message
from backend.run_options import JSON_MODE, JSON_SCHEMA

if TYPE_CHECKING:
    from backend.services.validation import ComparisonInput

# The pane field an unsupported capability's message goes on.
_FIELD = {JSON_MODE: "response_format", JSON_SCHEMA: "response_format"}
# One message per parameter, so each is translated whole.
_REFUSALS = {
    "top_p": N_("{model} does not take Top P."),
    "stop": N_("{model} does not take stop sequences."),
    "presence_penalty": N_("{model} does not take a presence penalty."),
    "frequency_penalty": N_("{model} does not take a frequency penalty."),
    JSON_MODE: N_("{model} does not give JSON output."),
    JSON_SCHEMA: N_("{model} does not give JSON-schema output."),
}


def capability_errors(data: ComparisonInput, models: dict[str, ModelInfo | None]) -> dict[str, str]:
    catalog = load_catalog()
    errors: dict[str, str] = {}
    for index, pane in enumerate(data.panes):
        info = models.get(pane.model) or catalog.resolve(pane.model)
        if data.images and not info.vision:
            errors[f"panes.{index}.model"] = Message(
                "{model} does not accept images: remove the images or pick a model that does.",
                model=info.display_name,
            )
        for name in sorted(pane.options().used() - info.capabilities):
            errors.setdefault(
                f"panes.{index}.{_FIELD.get(name, name)}",
                Message(_REFUSALS[name], model=info.display_name),
            )
    return errors
