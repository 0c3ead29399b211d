"""Saved model output for public pages: SafeMarkdown in assets/live_pane.jsx.

Raw HTML renders as text, links go only to http, https or mailto, and images load
only from the allowed hosts (else their alt text shows).
"""

from __future__ import annotations

import reflex as rx

from components.live import _LIBRARY, _NPM


class SafeMarkdown(rx.Component):
    library = _LIBRARY
    tag = "SafeMarkdown"
    lib_dependencies: list[str] = _NPM

    text: rx.Var[str]
    image_hosts: rx.Var[list[str]]
    height: rx.Var[str]


safe_markdown = SafeMarkdown.create
