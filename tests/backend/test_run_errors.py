"""A run's stored error (English) is said in the reader's language: the app's own sentences,
with their figures; a provider's own words as written."""

from __future__ import annotations

import pytest

from backend.i18n import Message, gettext
from backend.run_errors import (
    INTERNAL,
    NO_OUTPUT,
    SERVER_KEY_REFUSED,
    SIMULATED_FAILURE,
    STOPPED,
    YOUR_KEY_REFUSED,
    run_error_message,
)


@pytest.mark.parametrize(
    ("made", "japanese"),
    [
        (
            Message(YOUR_KEY_REFUSED, provider="OpenAI"),
            "OpenAI があなたの保存済みキーを拒否しました。設定ページで確認してください。",
        ),
        (
            Message(SERVER_KEY_REFUSED, provider="Anthropic"),
            "Anthropic がこのサーバーの保存済みキーを拒否しました。設定ページで確認してください。",
        ),
        (Message(SIMULATED_FAILURE, n=3), "シミュレーションの失敗（3 トークン後）"),
        (Message(NO_OUTPUT, seconds=30), "30 秒間出力がなかったため、打ち切りました。"),
        (Message(INTERNAL, detail="KeyError: 'x'"), "内部エラー: KeyError: 'x'"),
    ],
)
def test_the_apps_sentences_with_figures_are_recognized_in_the_stored_text(
    made: Message, japanese: str
) -> None:
    stored = str.__str__(made)  # a database row gives plain English text back
    said = run_error_message(stored)
    assert isinstance(said, Message) and said.msgid == made.msgid
    assert gettext("ja", said) == japanese and gettext("en", said) == stored


def test_fixed_sentences_stay_msgids_and_provider_words_stay_as_written() -> None:
    assert run_error_message(STOPPED) == STOPPED and gettext("ja", STOPPED) == "ユーザーが停止しました。"
    for words in ("Error code: 429 - rate limited", "BadRequestError: context too long", ""):
        assert run_error_message(words) == words and not isinstance(run_error_message(words), Message)
