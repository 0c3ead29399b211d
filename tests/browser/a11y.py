"""axe-core (bundled by axe-playwright-python) on a page or a part of it: the critical and
serious violations, each with the elements it names, so a failure says what to fix."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

BLOCKING = ("critical", "serious")


def serious_violations(page: Page, include: str | None = None) -> list[str]:
    """'rule-id (impact): selectors' for every critical or serious violation in ``include``
    (a CSS selector; the whole page when None)."""
    context: Any = {"include": [[include]]} if include else None
    # Colours are judged as painted: a dialog still fading in (Radix animates opacity) would be
    # measured half transparent. Finite animations are waited for; endless ones (spinners) are not.
    page.evaluate(
        """() => Promise.all(document.getAnimations()
            .filter(a => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
            .map(a => a.finished.catch(() => null)))"""
    )
    results = Axe().run(page, context=context)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v.get("impact") in BLOCKING
    ]
