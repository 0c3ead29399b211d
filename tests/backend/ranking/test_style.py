"""What style control counts in an answer."""

from __future__ import annotations

from backend.ranking import StyleFeatures, style_of


def test_headers_list_items_and_bold_spans_are_counted() -> None:
    text = (
        "# Title\n\nSome **bold** words and __more bold__.\n\n## Part\n"
        "- one\n* two\n+ three\n1. first\n2) second\n\n#hashtag is not a header\n"
        "a * b * c is not a list, nor is **an unclosed bold"
    )
    assert style_of(text, 42) == StyleFeatures(tokens=42, headers=2, lists=5, bold=2)


def test_plain_text_has_only_its_length() -> None:
    assert style_of("Just an answer.", 3) == StyleFeatures(tokens=3)
