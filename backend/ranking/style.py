"""The Markdown style of an answer, as LMArena's style control counts it: its length in tokens,
and how many headers, list items and bold spans it has."""

from __future__ import annotations

import re

from backend.ranking.types import StyleFeatures

_HEADER = re.compile(r"^\s{0,3}#{1,6}\s", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s", re.MULTILINE)
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.DOTALL)


def style_of(text: str, output_tokens: int) -> StyleFeatures:
    return StyleFeatures(
        tokens=max(output_tokens, 0),
        headers=len(_HEADER.findall(text)),
        lists=len(_LIST_ITEM.findall(text)),
        bold=len(_BOLD.findall(text)),
    )
