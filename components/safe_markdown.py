"""Saved model output for public pages: SafeMarkdown in assets/safe_markdown.jsx.

Raw HTML renders as text, links go only to http, https or mailto, and images load
only from the allowed hosts (else their alt text shows).
"""

from __future__ import annotations

import reflex as rx

from components.markdown_packages import MARKDOWN_PACKAGES

SAFE_MARKDOWN_JS = "$/public/safe_markdown.jsx"


class SafeMarkdown(rx.Component):
    library = SAFE_MARKDOWN_JS
    tag = "SafeMarkdown"
    lib_dependencies: list[str] = MARKDOWN_PACKAGES

    text: rx.Var[str]
    image_hosts: rx.Var[list[str]]
    height: rx.Var[str]
    label: rx.Var[str]  # the answer's accessible name (a focusable, scrollable region)


safe_markdown = SafeMarkdown.create
