"""Reflex configuration. Ports come from the environment (REFLEX_FRONTEND_PORT,
REFLEX_BACKEND_PORT ...) so the same file serves the laptop run, the tests and
production.

The state manager follows REDIS_URL, the same variable the backend's response
cache and rate limits use: set, Reflex keeps session state in Redis so several
backend replicas share it; empty or unset, state stays in this process.  It is
read here from the environment directly (rxconfig never imports the backend).
"""

import os

import reflex as rx

REDIS_URL = os.environ.get("REDIS_URL", "").strip()

config = rx.Config(
    app_name="dashboard",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    redis_url=REDIS_URL or None,
    state_manager_mode=(
        rx.constants.StateManagerMode.REDIS if REDIS_URL else rx.constants.StateManagerMode.MEMORY
    ),
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
