"""Server-side catalogs: choosing the language and formatting for it (backend/i18n.py)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from backend.i18n import (
    Duration,
    Message,
    Usd,
    cookie_language,
    format_datetime,
    format_usd,
    gettext,
    in_every_language,
    localize,
    negotiate,
    recognize,
    request_language,
    said_in,
)


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("ja-JP,ja;q=0.9,en;q=0.8", "ja"),
        ("en-US,en;q=0.9,ja;q=0.8", "en"),
        ("fr-FR,ja;q=0.5,en;q=0.4", "ja"),  # French is not spoken here: the next best we speak
        ("de", "en"),
        ("", "en"),
        ("ja;q=0, en", "en"),  # q=0 means "not this one"
    ],
)
def test_negotiate_picks_our_best_language(header: str, language: str) -> None:
    assert negotiate(header) == language


def test_the_cookie_beats_the_header() -> None:
    assert cookie_language("a=1; lang=ja; b=2") == "ja"
    assert cookie_language("lang=xx") is None
    assert request_language("lang=en", "ja-JP") == "en"
    assert request_language("", "ja-JP") == "ja"


def test_gettext_translates_and_fills_placeholders() -> None:
    assert gettext("ja", "Run") == "実行"
    assert gettext("en", "Run") == "Run"
    assert gettext("ja", "{count} of {max} panes", count=2, max=8) == "2 / 8 ペイン"
    assert gettext("ja", "A sentence not in the catalogs") == "A sentence not in the catalogs"
    assert gettext("xx", "Run") == "Run"


def test_dates_and_money_follow_the_locale() -> None:
    moment = datetime(2026, 12, 4, 19, 5, tzinfo=UTC)
    assert format_datetime(moment, "en") == "Dec 4, 2026, 7:05:00 PM"
    assert format_datetime(moment, "ja") == "2026/12/04 19:05:00"
    assert format_usd(1234.5, "en") == "$1,234.50"
    assert format_usd(1234.5, "ja") == "$1,234.50"
    assert format_usd(0.0004, "en") == "$0.0004"  # a small cost is not shown as $0.00
    assert format_usd(0, "ja") == "$0.00"


def test_a_message_with_figures_is_english_until_said_in_another_language() -> None:
    message = Message("Use at least {n} characters.", n=8)
    assert message == "Use at least 8 characters."  # callers that see a str see the English text
    assert gettext("ja", message) == "8 文字以上にしてください。"
    assert localize("ja", message) == "8 文字以上にしてください。"
    assert localize("en", message) == "Use at least 8 characters."
    assert localize("ja", "Enter a prompt.") == "Enter a prompt."  # fixed msgids: the browser's job
    assert pickle.loads(pickle.dumps(message)).msgid == "Use at least {n} characters."  # state in Redis


def test_a_wait_is_said_in_the_readers_language() -> None:
    """Whole seconds under two minutes, then minutes rounded up (never shorter than the wait),
    then hours and minutes: CLDR's units, so Japanese reads 分 and 時間, not "min" and "h"."""
    cases = [
        (45, "45 seconds", "45 秒"),
        (118.5, "119 seconds", "119 秒"),
        (121, "3 minutes", "3 分"),
        (7_500, "2 hours, 5 minutes", "2 時間 5 分"),
        (7_200, "2 hours", "2 時間"),
    ]
    for seconds, english, japanese in cases:
        wait = Duration(seconds)
        assert (wait.in_language("en"), wait.in_language("ja")) == (english, japanese)
    message = Message("Try again in {wait}.", wait=Duration(180))
    assert message == "Try again in 3 minutes."  # the English text, for every caller


def test_a_message_says_its_figures_and_nested_messages_in_the_same_language() -> None:
    refusal = Message(
        "{what} could cost up to {up_to}, which would pass your monthly budget of {budget} "
        "({spent} spent this month).",
        what=Message("This retry"),
        up_to=Usd(0.0123, 4),
        budget=Usd(1234.5),
        spent=Usd(1200),
    )
    assert refusal == (
        "This retry could cost up to $0.0123, which would pass your monthly budget of $1,234.50 "
        "($1,200.00 spent this month)."
    )
    assert gettext("ja", refusal) == (
        "この再試行は最大 $0.0123 かかる可能性があり、月間予算 $1,234.50 を超えます"
        "（今月の使用額 $1,200.00）。"
    )


def test_an_exception_keeps_its_message_through_str() -> None:
    """Handlers show `str(exc)`: a Message survives it, so the reader's language still applies."""
    error = LookupError(Message("No comparison {id}.", id="c-1"))
    assert isinstance(str(error), Message)
    assert gettext("ja", str(error)) == "比較 c-1 は見つかりません。"


def test_a_message_kept_for_the_page_holds_every_language_and_joins_with_other_text() -> None:
    """State keeps a Message in every language (the page picks its own, again on a switch);
    fixed msgids and other text stay as they are; messages joined in one line each switch."""
    refusal = Message("Use at least {n} characters.", n=8)
    kept = in_every_language(refusal)
    assert kept != str(refusal) and "Use at least" in kept  # the English is in it, with the Japanese
    assert said_in("en", kept) == "Use at least 8 characters."
    assert said_in("ja", kept) == gettext("ja", refusal) != "Use at least 8 characters."
    assert said_in("fr", kept) == "Use at least 8 characters."  # a language we do not speak: English
    assert in_every_language("Run") == "Run" and in_every_language("provider words") == "provider words"
    joined = " ".join([kept, "Run", in_every_language(Message("No comparison {id}.", id="c-1"))])
    assert said_in("ja", joined) == f"{gettext('ja', refusal)} Run 比較 c-1 は見つかりません。"


def test_a_stored_english_text_is_recognized_as_the_message_it_was_made_from() -> None:
    msgids = ("No comparison {id}.", "Use at least {n} characters.")
    found = recognize("No comparison c-9.", msgids)
    assert (
        isinstance(found, Message) and found.msgid == "No comparison {id}." and found.params == {"id": "c-9"}
    )
    assert gettext("ja", found) == "比較 c-9 は見つかりません。"
    for other in ("No comparison.", "Something else", "Run"):
        assert recognize(other, msgids) == other and not isinstance(recognize(other, msgids), Message)
    with pytest.raises(ValueError, match="placeholders"):
        recognize("x", ("{n:,} rows",))
