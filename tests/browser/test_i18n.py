"""Japanese and English (issue 16): the language follows the browser, switches in the header,
and stays with the account; the compare flow works in both, located by role and name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from devstack.accounts import TestAccount, account_in
from tests.browser.a11y import serious_violations
from tests.browser.conftest import panes

pytestmark = pytest.mark.browser

RUN_TIMEOUT_MS = 60_000
SHOTS = Path("/tmp/i18n-shots")  # the README's screenshots come from here (docs/compare-ja.png …)
LANGUAGE = "Language / 言語"
# Whether `text` fits inside a text field as its font draws it (the placeholder is not in the DOM).
TEXT_FITS = """(field, text) => {
    const style = getComputedStyle(field);
    const context = document.createElement('canvas').getContext('2d');
    context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const room = field.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return context.measureText(text).width <= room;
}"""


@pytest.fixture
def contexts(browser: Browser, app_url: str) -> Iterator[list[BrowserContext]]:
    """Contexts a test opens (closed after it), e.g. a second browser for the same account."""
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


def _context(browser: Browser, app_url: str, opened: list[BrowserContext], locale: str) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url, locale=locale)
    opened.append(context)
    return context


def _violations(page: Page) -> list[str]:
    """axe's critical and serious violations (answers are focusable, named scroll regions now)."""
    return serious_violations(page)


def _shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _run_simulated(page: Page, prompt_label: str, run: str, done: str, model: str) -> None:
    """Fill the prompt, press Run, wait for the three simulated panes' status badges to say done."""
    shown = panes(page, model)
    expect(shown).to_have_count(3, timeout=30_000)
    page.get_by_label(prompt_label, exact=True).fill("Compare quicksort and mergesort")
    page.get_by_role("button", name=run, exact=True).click()
    expect(shown.get_by_role("status")).to_have_text([done] * 3, timeout=RUN_TIMEOUT_MS)


def test_compare_flow_in_japanese_then_english(page: Page, user: TestAccount) -> None:
    page.goto("/")
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_visible(timeout=30_000)
    try:
        page.get_by_label(LANGUAGE).select_option("ja")
        nav = page.get_by_role("navigation", name="メイン")
        expect(nav.get_by_role("link", name="比較")).to_be_visible()
        expect(nav.get_by_role("link", name="履歴")).to_be_visible()
        expect(nav.get_by_role("link", name="プロジェクト")).to_be_visible()
        expect(page.get_by_role("button", name="停止", exact=True)).to_be_disabled()
        expect(page.get_by_role("combobox", name="モデル").first).to_be_visible()
        expect(page.get_by_role("button", name="ペインを削除").first).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "ja")
        _run_simulated(page, "プロンプト", "実行", "完了", "モデル")
        expect(page.get_by_role("group", name="計測値", exact=True).first).to_contain_text("出力")
        assert _violations(page) == []
        _shoot(page, "compare-ja")

        # A reload keeps the choice (the cookie), before any event reaches the server.
        page.reload()
        expect(page.get_by_role("button", name="実行", exact=True)).to_be_visible(timeout=30_000)
    finally:
        page.get_by_label(LANGUAGE).select_option("en")  # the shared account goes back to English
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    _run_simulated(page, "Prompt", "Run", "done", "Model")
    assert _violations(page) == []
    _shoot(page, "compare-en")


def test_first_visit_follows_the_browser_language(
    browser: Browser, app_url: str, contexts: list[BrowserContext]
) -> None:
    japanese = _context(browser, app_url, contexts, "ja-JP").new_page()
    japanese.goto("/login")
    expect(japanese.get_by_role("button", name="ログイン", exact=True)).to_be_visible(timeout=30_000)
    expect(japanese.get_by_label("メールアドレス")).to_be_visible()
    expect(japanese.get_by_label(LANGUAGE)).to_have_value("ja")
    assert _violations(japanese) == []

    english = _context(browser, app_url, contexts, "en-US").new_page()
    english.goto("/login")
    expect(english.get_by_role("button", name="Sign in", exact=True)).to_be_visible(timeout=30_000)
    expect(english.get_by_label(LANGUAGE)).to_have_value("en")

    # A message with figures from the server, in the tab's language (Accept-Language here).
    japanese.get_by_role("button", name="はじめての方: アカウントを作成").click()
    japanese.get_by_label("メールアドレス").fill("short@example.org")
    japanese.get_by_label("パスワード（8 文字以上）").fill("short")
    japanese.get_by_role("button", name="アカウントを作成", exact=True).click()
    expect(japanese.get_by_role("alert").filter(has_text="8 文字")).to_have_text("8 文字以上にしてください。")
    japanese.get_by_role("button", name="アカウントをお持ちの方: ログイン").click()

    # A wrong password's message comes from the catalogs too.
    japanese.get_by_label("メールアドレス").fill("nobody@example.org")
    japanese.get_by_label("パスワード").fill("not-the-password")
    japanese.get_by_role("button", name="ログイン", exact=True).click()
    expect(japanese.get_by_role("alert")).to_contain_text("メールアドレスまたはパスワードが正しくありません")


def test_the_choice_stays_with_the_account(
    browser: Browser, app_url: str, app_data_dir: Path, contexts: list[BrowserContext]
) -> None:
    account = account_in(app_data_dir, "nihongo@example.org", name="Nihongo")
    first = _context(browser, app_url, contexts, "en-US")
    first.add_cookies([account.cookie(app_url)])  # type: ignore[list-item]
    page = first.new_page()
    page.goto("/")
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_visible(timeout=30_000)
    page.get_by_label(LANGUAGE).select_option("ja")
    expect(page.get_by_role("button", name="実行", exact=True)).to_be_visible()
    page.get_by_role("button", name=re.compile(r"^アカウント")).click()
    page.get_by_role("menuitem", name="サインアウト").click()
    expect(page).to_have_url(f"{app_url}/login", timeout=15_000)

    # Another browser, in English, with no cookie of ours: signing in brings the account's Japanese.
    other = _context(browser, app_url, contexts, "en-US").new_page()
    other.goto("/login")
    other.get_by_label("Email").fill(account.email)
    other.get_by_label("Password").fill(account.password)
    other.get_by_role("button", name="Sign in", exact=True).click()
    expect(other.get_by_role("button", name="実行", exact=True)).to_be_visible(timeout=30_000)
    expect(other.get_by_role("navigation", name="メイン").get_by_role("link", name="履歴")).to_be_visible()
    _run_simulated(other, "プロンプト", "実行", "完了", "モデル")


def test_dark_mode_follows_the_system_and_toggles(
    browser: Browser, app_url: str, user: TestAccount, contexts: list[BrowserContext]
) -> None:
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, base_url=app_url, color_scheme="dark", locale="ja-JP"
    )
    contexts.append(context)
    context.add_cookies([user.cookie(app_url)])  # type: ignore[list-item]
    page = context.new_page()
    page.goto("/")
    toggle = page.get_by_role("button", name="ダークモード")
    expect(toggle).to_have_attribute("aria-pressed", "true", timeout=30_000)
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    expect(page.get_by_role("button", name="実行", exact=True)).to_be_visible()
    assert _violations(page) == []  # contrast holds in the dark theme too
    _shoot(page, "compare-dark-ja")

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(page.locator("html")).to_have_class(re.compile(r"\blight\b"))
    page.reload()  # the choice outlives the page
    expect(page.get_by_role("button", name="ダークモード")).to_have_attribute(
        "aria-pressed", "false", timeout=30_000
    )


def test_history_projects_settings_and_leaderboard_in_japanese(
    browser: Browser, app_url: str, user: TestAccount, contexts: list[BrowserContext]
) -> None:
    context = _context(browser, app_url, contexts, "ja-JP")
    context.add_cookies([user.cookie(app_url)])  # type: ignore[list-item]
    page = context.new_page()

    page.goto("/history")
    expect(page.get_by_role("columnheader", name="作成日時")).to_be_visible(timeout=30_000)
    row = page.get_by_role("row").filter(has=page.get_by_role("link")).first
    expect(row).to_contain_text("完了")  # e.g. "3/3 完了"
    # Babel's ja date
    expect(row).to_contain_text(re.compile(r"\d{4}/\d{2}/\d{2} \d{1,2}:\d{2}:\d{2}（UTC）"))
    expect(page.get_by_role("button", name="古いもの")).to_be_visible()
    assert _violations(page) == []
    search = page.get_by_role("searchbox", name="比較を検索")
    assert search.evaluate(TEXT_FITS, search.get_attribute("placeholder")), (
        "the Japanese placeholder is cut off"
    )

    page.goto("/projects")
    expect(page.get_by_role("button", name="作成", exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("textbox", name="新しいプロジェクト名")).to_be_visible()
    assert _violations(page) == []

    page.goto("/settings")
    expect(page.get_by_role("heading", name="アカウント")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("textbox", name="現在のパスワード")).to_be_visible()
    expect(page.get_by_role("group", name="今月の利用額")).to_contain_text("今月の利用額（UTC）: $")
    assert _violations(page) == []

    page.goto("/leaderboard")
    expect(page.get_by_role("combobox", name="データ元")).to_be_visible(timeout=30_000)
    assert _violations(page) == []


def test_service_messages_and_the_tab_title_in_japanese(
    browser: Browser, app_url: str, app_data_dir: Path, contexts: list[BrowserContext]
) -> None:
    """Messages the services make with figures (the budget refusal with its amounts, a 404
    naming an id, a model's availability reason) reach a Japanese tab in Japanese, and the
    tab's title follows the language both ways."""
    account = account_in(app_data_dir, "budget-ja@example.org", name="Budget Reader")
    context = _context(browser, app_url, contexts, "en-US")
    context.add_cookies([account.cookie(app_url)])  # type: ignore[list-item]
    page = context.new_page()
    page.goto("/settings")
    expect(page).to_have_title("Settings · LLM Dashboard", timeout=30_000)
    openai = page.get_by_role("group", name="OpenAI", exact=True)
    openai.get_by_role("textbox", name="OpenAI key").fill("sk-budget-0123456789-made-up")
    openai.get_by_role("button", name="Save OpenAI key").click()
    expect(openai.get_by_role("status", name="OpenAI key test")).to_have_text("never tested", timeout=15_000)
    page.get_by_label("Monthly budget in USD").fill("0.001")
    page.get_by_role("button", name="Save budget").click()
    expect(page.get_by_role("group", name="Monthly budget")).to_contain_text("0.001", timeout=15_000)

    page.get_by_label(LANGUAGE).select_option("ja")
    expect(page).to_have_title("設定 · LLM Dashboard")

    page.goto("/?" + urlencode({"models": "openai:gpt-4o", "prompt": "予算の確認"}))
    expect(page).to_have_title("比較 · LLM Dashboard", timeout=30_000)
    expect(panes(page, "モデル")).to_have_count(1, timeout=30_000)
    page.get_by_role("button", name="実行", exact=True).click()
    refusal = page.get_by_role("alert").filter(has_text="月間予算")
    expect(refusal).to_have_text(
        re.compile(
            r"^この比較は最大 \$0\.\d{4} かかる可能性があり、月間予算 \$0\.0010 を超えます"
            r"（今月の使用額 \$0\.00）。$"
        ),
        timeout=30_000,
    )

    # A model that cannot run says why in Japanese, figures (its server's address) included.
    picker = page.get_by_role("combobox", name="追加するモデル")
    expect(
        picker.get_by_role(
            "option", name=re.compile(r"^Llama 3\.2 \(Ollama\) — .+ で Ollama が動いていません$")
        )
    ).to_have_count(1)
    # A provider with no key points to where the person adds one (not to an environment variable).
    no_key = "Claude Haiku 4.5 — キーがありません: 設定 → プロバイダーキー で追加してください"
    expect(picker.get_by_role("option", name=no_key, exact=True)).to_have_count(1)

    page.goto("/?c=no-such-comparison")
    expect(page.get_by_role("alert")).to_have_text(
        "比較 no-such-comparison は見つかりません。", timeout=30_000
    )

    page.get_by_label(LANGUAGE).select_option("en")
    expect(page).to_have_title("Compare · LLM Dashboard")


def test_messages_with_figures_switch_with_the_language_on_the_open_page(page: Page) -> None:
    """A service's message with figures (a 404 naming an id), one of the app's run errors with a
    figure and a line joining two refusals are shown in the language the person switches to,
    at once and both ways, without a reload or another action."""
    page.goto("/?c=no-such-comparison")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("No comparison no-such-comparison.", timeout=30_000)
    try:
        page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
        page.get_by_label(LANGUAGE).select_option("ja")
        expect(alert).to_have_text("比較 no-such-comparison は見つかりません。")
        page.get_by_label(LANGUAGE).select_option("en")
        expect(alert).to_have_text("No comparison no-such-comparison.")
        assert page.evaluate("window.__sameDocument") is True

        # A link that names an unknown model and too many panes: two sentences on one line.
        models = ["nope:model", *["simulated:instant"] * 9]
        page.goto("/compare?" + urlencode({"models": ",".join(models), "prompt": "x"}))
        skipped = page.get_by_role("alert").filter(has_text="nope:model")
        english = (
            "Unknown models skipped: nope:model. At most 8 panes can run at once; the rest were left out."
        )
        expect(skipped).to_have_text(english, timeout=30_000)
        page.get_by_label(LANGUAGE).select_option("ja")
        expect(skipped).to_have_text(
            "不明なモデルを除外しました: nope:model。"
            " 一度に実行できるペインは 8 個までです。残りは除外しました。"
        )
        page.get_by_label(LANGUAGE).select_option("en")
        expect(skipped).to_have_text(english)
        expect(page.locator("html")).to_have_attribute("lang", "en")

        # A run's error, stored in English with its figure, follows the switch too.
        page.goto(
            "/compare?" + urlencode({"models": "simulated:swift", "prompt": "[[simulate:fail@2]] fail"})
        )
        pane = panes(page).first
        expect(pane).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Run", exact=True).click()
        error = pane.get_by_role("group", name="Pane error")
        expect(error).to_have_text("simulated failure after 2 tokens", timeout=RUN_TIMEOUT_MS)
        page.get_by_label(LANGUAGE).select_option("ja")
        expect(panes(page, "モデル").first.get_by_role("group", name="ペインのエラー")).to_have_text(
            "シミュレーションの失敗（2 トークン後）"
        )
    finally:
        page.get_by_label(LANGUAGE).select_option("en")  # the shared account goes back to English
    expect(pane.get_by_role("group", name="Pane error")).to_have_text("simulated failure after 2 tokens")


def test_a_page_opened_in_japanese_never_shows_its_english_first(
    browser: Browser, app_url: str, contexts: list[BrowserContext]
) -> None:
    """The prerendered page is English; a Japanese tab keeps it hidden (visibility) from the
    first paint until it has rendered in Japanese, an English tab shows it at once."""
    watch = """document.addEventListener('DOMContentLoaded', () => {
        const html = document.documentElement;
        window.__hiddenAtFirstParse = getComputedStyle(html).visibility === 'hidden';
        window.__englishWhileShown = [];
        new MutationObserver(() => {
            const shown = getComputedStyle(html).visibility !== 'hidden';
            const english = document.body.innerText.includes('Create account');
            if (shown && english) window.__englishWhileShown.push(1);
        }).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
    });"""
    for locale, hidden, sign_in in (("ja-JP", True, "ログイン"), ("en-US", False, "Sign in")):
        context = _context(browser, app_url, contexts, locale)
        context.add_init_script(watch)
        page = context.new_page()
        page.goto("/login")
        expect(page.get_by_role("button", name=sign_in, exact=True)).to_be_visible(timeout=30_000)
        assert page.evaluate("window.__hiddenAtFirstParse") is hidden, locale
        expect(page.locator("html")).not_to_have_class(re.compile("i18n-pending"))
        if hidden:
            assert page.evaluate("window.__englishWhileShown.length") == 0


def test_history_dates_statuses_and_the_budget_switch_with_the_language_on_the_open_page(
    page: Page, app_url: str, user: TestAccount
) -> None:
    """Texts the server builds with figures (History's dates and run counts, the Settings page's
    spend) are kept in every language like the services' messages: a switch on the open page
    shows them in the new language at once, without a reload (they were said in the language of
    the page's last load)."""
    with httpx.Client(base_url=app_url, headers=user.api_headers, timeout=15) as api:
        created = api.post(
            "/api/v1/comparisons", json={"prompt": "A river", "panes": [{"model": "simulated:instant"}]}
        )
        assert created.status_code == 201, created.text
    page.goto("/history")
    row = page.get_by_role("row").filter(has=page.get_by_role("link")).first
    expect(row).to_contain_text(re.compile(r"\d+/\d+ done|\d+ running"), timeout=30_000)
    expect(row).to_contain_text(re.compile(r"\d{4}, \d{1,2}:\d{2}:\d{2}\s[AP]M UTC"))  # Babel's en date
    try:
        page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
        page.get_by_label(LANGUAGE).select_option("ja")
        expect(row).to_contain_text(re.compile(r"\d+/\d+ 完了|\d+ 件実行中"))
        expect(row).to_contain_text(re.compile(r"\d{4}/\d{2}/\d{2} \d{1,2}:\d{2}:\d{2}（UTC）"))
        page.get_by_label(LANGUAGE).select_option("en")
        expect(row).to_contain_text(re.compile(r"\d+/\d+ done|\d+ running"))
        expect(row).to_contain_text(re.compile(r"[AP]M UTC"))
        assert page.evaluate("window.__sameDocument") is True

        page.goto("/settings")
        spent = page.get_by_role("group", name="Spent this month")
        expect(spent).to_contain_text("Spent this month (UTC): $", timeout=30_000)
        page.get_by_label(LANGUAGE).select_option("ja")
        expect(page.get_by_role("group", name="今月の利用額")).to_contain_text("今月の利用額（UTC）: $")

        # The usage page's total follows a switch too.
        page.goto("/usage")
        total = page.get_by_role("group", name="利用の合計")
        expect(total).to_contain_text(re.compile(r"過去 30 日で \d+ 回の実行"), timeout=30_000)
        page.evaluate("window.__sameDocument = true")
        page.get_by_label(LANGUAGE).select_option("en")
        expect(page.get_by_role("group", name="Usage total")).to_contain_text(
            re.compile(r"\d+ runs?, \$[\d.,]+ in the last 30 days\.")
        )
        page.get_by_label(LANGUAGE).select_option("ja")
        expect(total).to_contain_text("過去 30 日で")
        assert page.evaluate("window.__sameDocument") is True
    finally:
        page.get_by_label(LANGUAGE).select_option("en")  # the shared account goes back to English
