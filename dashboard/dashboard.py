"""The Reflex app: pages, the HTTP API and the runtime's lifespan."""

from __future__ import annotations

import reflex as rx

from backend import runtime
from backend.api.app import create_api
from backend.logs import configure_logging
from backend.settings import get_settings
from components.i18n import language_boot_script, t
from dashboard.event_socket import without_event_socket_cookies
from dashboard.pages.batches import batches_page
from dashboard.pages.compare import compare_page
from dashboard.pages.history import history_page
from dashboard.pages.leaderboard import leaderboard_page
from dashboard.pages.login import login_page
from dashboard.pages.projects import projects_page
from dashboard.pages.settings import load_settings, settings_page
from dashboard.pages.share import share_page
from dashboard.pages.usage import usage_page
from dashboard.security_headers import with_security_headers
from dashboard.session_cookie import with_session_cookie_route
from state.auth import AuthState
from state.batch_state import BatchState
from state.compare import CompareState
from state.email_notice import EmailNoticeState
from state.history import HistoryState
from state.leaderboard import LeaderboardState
from state.projects import ProjectsState
from state.search import SearchState
from state.session_guard import SessionBinding
from state.share import SharePageState
from state.usage import UsageState

if get_settings().json_logs:  # production: JSON lines; development keeps Reflex's readable text
    configure_logging(get_settings().log_level, json_lines=True)

app = rx.App(
    stylesheets=["/styles.css"],
    head_components=[language_boot_script()],
    # The API (which mounts Reflex's app), then no Cookie header on the event socket (only the
    # session it proves), the HttpOnly session cookie's route, then, outermost, the security
    # headers of every response.
    api_transformer=[
        create_api(runtime.current),
        without_event_socket_cookies,
        with_session_cookie_route,
        with_security_headers,
    ],
)
app.register_lifespan_task(runtime.serving)
# First, before any handler or hydrate: a tab's state belongs to the connection that proved its cookie.
app.add_middleware(SessionBinding(), index=0)
# The tab's title follows the page's language (a Var: the browser looks it up, and again on a switch).
app.add_page(compare_page, route="/", title=t("Compare · LLM Dashboard"), on_load=CompareState.load)
app.add_page(compare_page, route="/compare", title=t("Compare · LLM Dashboard"), on_load=CompareState.load)
app.add_page(
    history_page,
    route="/history",
    title=t("History · LLM Dashboard"),
    on_load=[HistoryState.load, SearchState.load],
)
app.add_page(
    leaderboard_page,
    route="/leaderboard",
    title=t("Leaderboard · LLM Dashboard"),
    on_load=LeaderboardState.load,
)
app.add_page(usage_page, route="/usage", title=t("Usage · LLM Dashboard"), on_load=UsageState.load)
app.add_page(login_page, route="/login", title=t("Sign in · LLM Dashboard"), on_load=AuthState.load_login)
app.add_page(settings_page, route="/settings", title=t("Settings · LLM Dashboard"), on_load=load_settings)
app.add_page(
    share_page,
    route="/share/[share_token]",
    title=t("Shared comparison · LLM Dashboard"),
    on_load=SharePageState.load,
)
app.add_page(
    projects_page,
    route="/projects",
    title=t("Projects · LLM Dashboard"),
    on_load=[ProjectsState.load, EmailNoticeState.load],
)
app.add_page(batches_page, route="/batches", title=t("Batches · LLM Dashboard"), on_load=BatchState.load)
