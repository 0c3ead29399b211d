"""Every main screen at a desktop (1440x900) and a phone (390x844), in English and Japanese: the
compare page empty, streaming with 4 and 8 panes, done; History; Settings. On each, the page is
no wider than the screen, no control sticks out of it (unless it sits in a row that scrolls
sideways) and no table's column header breaks over lines. The screenshots land in SHOTS for a
person to look at (the README's come from here).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.accounts import account_in

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/screens")
RUN_TIMEOUT_MS = 90_000
FOUR = ["simulated:swift", "simulated:steady", "simulated:ponder", "simulated:coder"]
EIGHT = [*FOUR, "simulated:terse", "simulated:instant", "simulated:swift", "simulated:coder"]
PROMPT = "How does a hash map handle collisions? Give a short example."
SLOW = " [[simulate:tokens=400]]"  # still streaming when Stop is pressed
# The words the checks look for, per language.
WORDS = {
    "en": {"run": "Run", "stop": "Stop", "model": "Model", "live": "Live figures", "figures": "Figures"},
    "ja": {"run": "実行", "stop": "停止", "model": "モデル", "live": "ライブ計測値", "figures": "計測値"},
}
LOCALES = {"en": "en-US", "ja": "ja-JP"}
SCREENS = [(1440, 900), (390, 844)]

# Controls outside the screen, unless a sideways-scrolling row holds them (reachable by scrolling).
CONTROLS = "main button, main select, main input, main a, header button, header a"
OFF_SCREEN = """([w, controls]) => [...document.querySelectorAll(controls)]
  .filter(e => {
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || getComputedStyle(e).visibility === 'hidden') return false;
    for (let p = e.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p);
      if ((s.overflowX === 'auto' || s.overflowX === 'scroll') && p.scrollWidth > p.clientWidth) return false;
      if (s.position === 'fixed') break;
    }
    return r.left < -1 || r.right > w + 1;
  })
  .map(e => `${e.tagName} ${(e.getAttribute('aria-label') || e.textContent || '').trim().slice(0, 40)}`)"""

# At 390 px "最終使用" stood a character a line.
# Column headers broken inside a word: more lines than words (a Japanese header is one word).
# Text in a box one pixel wide is for screen readers only (sr-only): it wraps unseen.
WRAPPED_HEADERS = r"""() => [...document.querySelectorAll('thead th, [role=columnheader]')]
  .filter(e => {
    const tops = new Set();
    const texts = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
    for (let node = texts.nextNode(); node; node = texts.nextNode()) {
      if (node.parentElement.getBoundingClientRect().width <= 1) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) if (r.width > 0) tops.add(Math.round(r.top));
    }
    return tops.size > e.textContent.trim().split(/\s+/).length;
  })
  .map(e => e.textContent.trim())"""


def _fits(page: Page, width: int, what: str) -> None:
    page.wait_for_timeout(300)  # layout settles after the last render
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{what}: wider than {width}"
    assert page.evaluate(OFF_SCREEN, [width, CONTROLS]) == [], f"{what}: controls off the screen"
    assert page.evaluate(WRAPPED_HEADERS) == [], f"{what}: a column header breaks over lines"


def _shoot(page: Page, name: str, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _run(page: Page, models: list[str], words: dict[str, str], prompt: str = PROMPT) -> None:
    page.goto("/compare?" + urlencode({"models": ",".join(models), "prompt": prompt}))
    run = page.get_by_role("button", name=words["run"], exact=True)
    expect(run).to_be_enabled(timeout=30_000)
    expect(page.get_by_role("combobox", name=words["model"], exact=True)).to_have_count(len(models))
    run.click()
    expect(page.get_by_role("group", name=words["live"]).first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1_500)  # some text in every pane


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize(("width", "height"), SCREENS)
def test_every_screen_fits_and_is_photographed(
    browser: Browser, app_url: str, app_data_dir: Path, lang: str, width: int, height: int
) -> None:
    account = account_in(app_data_dir, f"screens-{uuid.uuid4().hex[:6]}@example.org", name="Ada Lovelace")
    context = browser.new_context(
        viewport={"width": width, "height": height}, base_url=app_url, locale=LOCALES[lang]
    )
    context.add_cookies([account.cookie(app_url)])  # type: ignore[list-item]
    page = context.new_page()
    words, tag = WORDS[lang], f"{lang}-{width}"
    try:
        page.goto("/")
        expect(page.get_by_role("button", name=words["run"], exact=True)).to_be_visible(timeout=30_000)
        expect(page.locator("html")).to_have_attribute("lang", lang)
        _fits(page, width, "compare, empty")
        _shoot(page, f"{tag}-compare-empty")

        _run(page, FOUR, words)
        _fits(page, width, "compare, 4 panes streaming")
        _shoot(page, f"{tag}-compare-4-streaming")
        expect(page.get_by_role("group", name=words["figures"], exact=True)).to_have_count(
            4, timeout=RUN_TIMEOUT_MS
        )
        _fits(page, width, "compare, done")
        _shoot(page, f"{tag}-compare-done")

        _run(page, EIGHT, words, PROMPT + SLOW)
        _fits(page, width, "compare, 8 panes streaming")
        _shoot(page, f"{tag}-compare-8-streaming")
        page.get_by_role("button", name=words["stop"], exact=True).click()

        page.goto("/history")
        expect(page.get_by_role("table").get_by_role("link").first).to_be_visible(timeout=30_000)
        _fits(page, width, "history")
        _shoot(page, f"{tag}-history")

        page.goto("/settings")
        expect(page.get_by_role("button", name=words["run"])).to_have_count(0, timeout=30_000)
        expect(page.get_by_role("heading", level=2).first).to_be_visible(timeout=30_000)
        page.wait_for_load_state("networkidle")
        _fits(page, width, "settings")
        _shoot(page, f"{tag}-settings", full_page=True)
    finally:
        context.close()
