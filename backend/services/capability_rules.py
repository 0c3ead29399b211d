"""Which pane settings a model takes: a parameter its catalog entry does not list, or an image
for a model without vision, is refused with a message on the pane's field.

The seed is the exception: it was accepted for every model before the catalog listed
capabilities, so a model without one simply does not get it (as Anthropic's API has none)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.catalog import ModelInfo, load_catalog
from backend.i18n import Message
from backend.run_options import JSON_MODE, JSON_SCHEMA

if TYPE_CHECKING:
    from backend.services.validation import ComparisonInput

# The pane field an unsupported capability's message goes on.
_FIELD = {JSON_MODE: "response_format", JSON_SCHEMA: "response_format"}
_LABEL = {
    "top_p": "Top P",
    "stop": "stop sequences",
    "presence_penalty": "a presence penalty",
    "frequency_penalty": "a frequency penalty",
    JSON_MODE: "JSON output",
    JSON_SCHEMA: "JSON-schema output",
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
                Message("{model} does not take {param}.", model=info.display_name, param=_LABEL[name]),
            )
    return errors
