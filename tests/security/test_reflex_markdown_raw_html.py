"""What the pinned Reflex Markdown component does with raw HTML, and that model output never
goes through it.

Finding (Reflex 0.10.1, reflex-components-markdown 0.10.0): `rx.markdown(...)` turns on
rehype-raw by default (`use_raw=True`), so raw HTML inside Markdown becomes real DOM
elements, with no sanitizer: `<iframe srcdoc="<script>…">`, `<img src=…>` beacons,
forms and the like from a model would be live. The app renders model output with its
own components (assets/markdown.jsx and safe_markdown.jsx: react-markdown without rehype-raw, a URL filter,
no image fetches), and these tests keep it that way.

Field class: stored XSS through Markdown rendering of untrusted LLM output (Open WebUI,
LibreChat and Dify advisories; Reflex's Markdown defaults).
"""

from __future__ import annotations

import ast
from pathlib import Path

import reflex as rx

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = '<img src=x onerror="window.__pwned=1"><iframe srcdoc="<script>parent.__pwned=2</script>">'


def _rehype_plugins(component: rx.Component) -> list[str]:
    return sorted(k for k in component._get_all_imports() if k.startswith("rehype-"))


def test_the_pinned_rx_markdown_renders_raw_html_by_default() -> None:
    component = rx.markdown(HOSTILE)
    assert "rehype-raw@7.0.0" in _rehype_plugins(component)
    assert "rehypeRaw" in str(component.render())
    # Opting out is possible, and is what any use with untrusted text would need.
    safe = rx.markdown(HOSTILE, use_raw=False)
    assert "rehype-raw@7.0.0" not in _rehype_plugins(safe)
    assert "rehypeRaw" not in str(safe.render())


def test_no_page_component_or_state_uses_rx_markdown() -> None:
    uses = []
    for folder in ("components", "dashboard", "state"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr == "markdown"
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "rx"
                ):
                    uses.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert uses == [], f"rx.markdown renders raw HTML by default; model output must not use it: {uses}"


def test_the_apps_own_markdown_renderer_has_no_raw_html_plugin() -> None:
    source = "\n".join((ROOT / "assets" / name).read_text() for name in ("markdown.jsx", "safe_markdown.jsx"))
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("//"))
    assert "rehype-raw" not in code and "rehypeRaw" not in code
    assert "dangerouslySetInnerHTML" not in code
    assert code.count("<ReactMarkdown") >= 2  # the live pane and the shared page
    for use in code.split("<ReactMarkdown")[1:]:
        assert "rehypePlugins" not in use.split(">", 1)[0]
