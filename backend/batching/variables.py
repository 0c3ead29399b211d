"""``{{name}}`` placeholders in a template: which ones it uses, and the text with them filled."""

from __future__ import annotations

import re
from collections.abc import Mapping

# A name as a CSV header would give it: letters, digits, _ and -, optional spaces inside the braces.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_\-]*)\s*\}\}")


def variables_of(*texts: str) -> list[str]:
    """The variables the texts use, in order of first use, each once."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in PLACEHOLDER.finditer(text):
            seen.setdefault(match.group(1), None)
    return list(seen)


def render(text: str, values: Mapping[str, object]) -> str:
    """The text with each placeholder replaced by its value (missing: left as written).

    One pass: a value that itself contains ``{{x}}`` is not filled again."""
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), text)


def missing_variables(variables: list[str], columns: list[str]) -> list[str]:
    """The template's variables the table has no column for."""
    have = set(columns)
    return [name for name in variables if name not in have]
