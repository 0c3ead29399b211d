"""Wrappers for the live pane React components in assets/live_pane.jsx, and the script that
feeds their store (`window.__llmLive`, assets/live_store.jsx) the new text of each run."""

from __future__ import annotations

import json
from collections.abc import Sequence

import reflex as rx
from reflex.event import EventSpec

from backend.streaming.follower import LiveEntry

_LIBRARY = "$/public/live_pane.jsx"
_NPM = ["react-markdown@10.1.0", "remark-gfm@4.0.1", "react-syntax-highlighter@16.1.2"]


class LiveMarkdown(rx.Component):
    """Renders a run's text: `text` (the saved output) once set, else the live store's copy."""

    library = _LIBRARY
    tag = "LiveMarkdown"
    lib_dependencies: list[str] = _NPM

    run_key: rx.Var[str]
    text: rx.Var[str]
    sync_scroll: rx.Var[bool]
    height: rx.Var[str]


class LiveMetrics(rx.Component):
    """Time to first token, tokens/s, tokens out and elapsed time, ticking live."""

    library = _LIBRARY
    tag = "LiveMetrics"
    lib_dependencies: list[str] = _NPM

    run_key: rx.Var[str]


live_markdown = LiveMarkdown.create
live_metrics = LiveMetrics.create


def apply_live_entries(entries: Sequence[LiveEntry]) -> EventSpec:
    """The script that appends `entries` to the browser's live store, in their compact wire form."""
    batch = json.dumps([entry.encode() for entry in entries], separators=(",", ":"))
    return rx.call_script(f"window.__llmLive.apply({batch})")
