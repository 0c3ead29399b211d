"""Wrappers for the live pane React components in assets/live_pane.jsx, and the script that
feeds their store (`window.__llmLive`, assets/live_store.jsx) the new text of each run.

assets/live_pane.jsx renders with assets/markdown.jsx; the share page's stricter renderer is
components/safe_markdown.py."""

from __future__ import annotations

import json
from collections.abc import Sequence

import reflex as rx
from reflex.event import Event

from backend.i18n import N_
from backend.streaming.follower import LiveEntry
from components.markdown_packages import MARKDOWN_PACKAGES

LIVE_PANE_JS = "$/public/live_pane.jsx"
# The words LiveMetrics shows, translated in the browser (assets/live_pane.jsx calls i18nT):
# marked here so the catalogs keep them.
LIVE_METRICS_WORDS = (N_("waiting…"), N_("out"), N_("Live figures"))
# The copy buttons' words and the scroll regions' names (assets/markdown.jsx, live_pane.jsx).
COPY_WORDS = (
    N_("Copy"),
    N_("Copied"),
    N_("Copy answer"),
    N_("Copy code"),
    N_("Code: {language}"),
    N_("Answer"),
)


class LiveMarkdown(rx.Component):
    """Renders a run's text: `text` (the saved output) once set, else the live store's copy."""

    library = LIVE_PANE_JS
    tag = "LiveMarkdown"
    lib_dependencies: list[str] = MARKDOWN_PACKAGES

    run_key: rx.Var[str]
    text: rx.Var[str]
    sync_scroll: rx.Var[bool]
    height: rx.Var[str]
    label: rx.Var[str]  # the answer's accessible name (a focusable, scrollable region)


class LiveMetrics(rx.Component):
    """Time to first token, tokens/s, tokens out and elapsed time, ticking live."""

    library = LIVE_PANE_JS
    tag = "LiveMetrics"
    lib_dependencies: list[str] = MARKDOWN_PACKAGES

    run_key: rx.Var[str]


live_markdown = LiveMarkdown.create
live_metrics = LiveMetrics.create


CALL_SCRIPT = "_call_script"  # the browser-side event rx.call_script sends


# json.dumps(..., separators=(",", ":")) builds an encoder on every call: one, made once.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


def apply_live_entries(entries: Sequence[LiveEntry]) -> Event:
    """The script that appends `entries` to the browser's live store, in their compact wire form.

    The event `rx.call_script` would make, built directly: a page's stream sends one per flush
    (a thousand a second with fifty pages streaming), and the EventSpec route (its Vars, then
    Reflex turning the spec back into this event) cost 30 us of the event loop per flush."""
    batch = _COMPACT_JSON.encode([entry.encode() for entry in entries])
    return Event(
        name=CALL_SCRIPT,
        payload={"javascript_code": f"window.__llmLive.apply({batch})", "callback": None},
    )
