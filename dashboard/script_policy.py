"""The script policy of an HTML page: its own origin, its own inline scripts by hash, and eval.

- `'self'`: the compiled front end's modules.
- A `'sha256-…'` source for each inline script of the page as served. The compiled pages are
  static files (Reflex's build: React Router's context and stream scripts, the colour-mode
  boot script, React's own), holding no user input, so hashing what the page carries admits
  exactly those scripts; an injected `<script>`, an `on…=` attribute or a `javascript:` link
  runs nowhere ('unsafe-inline' is not granted).
- `'unsafe-eval'`: Reflex runs `rx.call_script` (the app's copy buttons, the skip link, the
  session cookie's grant, …) and event callbacks through `eval` in its event loop
  (.web/utils/state.js); without it those events fail. It admits eval of strings the app
  itself sends over its event socket, not of page markup.
- With Firebase sign-in, `https://apis.google.com`: the Firebase SDK's Google pop-up loads its
  helper script from there.
- The API's Swagger page (`DOCS_PATH`) is served whole by the app (backend/api/docs_routes.py):
  its policy is this origin and its one inline script, without eval, and it may fetch and show
  images from this origin only (`DOCS_PAGE_EXTRA`): no other host is reached from it.
"""

from __future__ import annotations

import base64
import hashlib
import re

from backend.api.app import DOCS_PATH

INLINE_SCRIPT = re.compile(rb"<script\b([^>]*)>(.*?)</script\s*>", re.S | re.I)
_SRC = re.compile(rb"\bsrc\s*=", re.I)
FIREBASE_SCRIPTS = "https://apis.google.com"
DOCS_PAGE_EXTRA = "connect-src 'self'; img-src 'self' data:"


def inline_script_hashes(html: bytes) -> list[str]:
    """The CSP hash source of every inline script of `html`, in order, without repeats."""
    found: list[str] = []
    for match in INLINE_SCRIPT.finditer(html):
        if _SRC.search(match.group(1)):
            continue
        digest = base64.b64encode(hashlib.sha256(match.group(2)).digest()).decode("ascii")
        source = f"'sha256-{digest}'"
        if source not in found:
            found.append(source)
    return found


def script_src(html: bytes, extra_sources: tuple[str, ...] = (), *, eval_allowed: bool = True) -> str:
    first = "script-src 'self' 'unsafe-eval'" if eval_allowed else "script-src 'self'"
    return " ".join([first, *extra_sources, *inline_script_hashes(html)])


def page_script_policy(path: str, html: bytes, firebase: bool) -> str:
    """The script directives of the HTML page at `path` (and, for the Swagger page, its fetches)."""
    if path.rstrip("/") == DOCS_PATH:
        return script_src(html, eval_allowed=False) + "; " + DOCS_PAGE_EXTRA
    return script_src(html, (FIREBASE_SCRIPTS,) if firebase else ())
