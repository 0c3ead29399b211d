"""The npm packages the Markdown renderers in assets/ import (markdown.jsx, and through it the
live pane and the share page's safe_markdown.jsx): one list for every component using them."""

from __future__ import annotations

MARKDOWN_PACKAGES = ["react-markdown@10.1.0", "remark-gfm@4.0.1", "react-syntax-highlighter@16.1.2"]
