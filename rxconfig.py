"""Reflex configuration. Ports come from the environment (REFLEX_FRONTEND_PORT,
REFLEX_BACKEND_PORT ...) so the same file serves the laptop run, the tests and
production.

The state manager follows REDIS_URL, the same variable the backend's response
cache and rate limits use: set, Reflex keeps session state in Redis so several
backend replicas share it; empty or unset, state stays in this process.  It is
read here from the environment directly (rxconfig never imports the backend),
or, like every secret setting, from the file REDIS_URL_FILE names (a mounted secret:
its URL may hold Redis's AUTH string).
"""

import os
from pathlib import Path

import reflex as rx


def _redis_url() -> str:
    if path := os.environ.get("REDIS_URL_FILE", "").strip():
        return Path(path).read_text(encoding="utf-8").strip()
    return os.environ.get("REDIS_URL", "").strip()


REDIS_URL = _redis_url()


def _trusted_proxy_hops() -> int:
    """TRUSTED_PROXY_HOPS (backend/settings.py describes it): Reflex then takes the client's
    address from X-Forwarded-For, that many entries from the right, and only then."""
    raw = os.environ.get("TRUSTED_PROXY_HOPS", "").strip()
    return int(raw) if raw.isdigit() else 0


config = rx.Config(
    app_name="dashboard",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    redis_url=REDIS_URL or None,
    trusted_proxy_hops=_trusted_proxy_hops(),
    state_manager_mode=(
        rx.constants.StateManagerMode.REDIS if REDIS_URL else rx.constants.StateManagerMode.MEMORY
    ),
    # Solid panels: Radix's default translucent ones put a 64 px backdrop blur behind every card,
    # and a pane card's live metrics line, repainted ten times a second, made the browser blur all
    # eight cards again on each frame (bench/RESULTS.md, session 6: the compositor's CPU 0.9 -> 0.13
    # cores, frames 12 -> 52 a second while 8 panes stream).  On the plain page background the
    # blur showed nothing.
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="indigo", radius="medium", panel_background="solid")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
