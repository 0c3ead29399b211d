"""Reflex configuration. Ports and the state manager come from the environment
(REFLEX_FRONTEND_PORT, REFLEX_BACKEND_PORT, REFLEX_REDIS_URL ...) so the same file
serves the laptop run, the tests and production."""

import reflex as rx

config = rx.Config(
    app_name="dashboard",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    state_manager_mode=rx.constants.StateManagerMode.MEMORY,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
