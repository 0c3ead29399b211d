"""Every event handler of every Reflex state in the `state` package, found by walking the
state classes, either checks the session first (`signed_in_user`, directly, through the
`@with_user` decorator or through a `self._helper` it calls) or is in ALLOWLIST with the
reason it needs no check.

Then, behaviourally: every checked handler, called from a tab with no session (but with
another user's real ids planted in its state, as a crafted event would), answers with a
redirect to /login and changes nothing saved.

Field class: one authorization check per action whichever path carries it. The page's
Socket.IO events are a second API next to HTTP; a handler that forgot the check is an
unauthenticated endpoint (Reflex apps' state-event authorization bugs; Open WebUI
advisories where a socket event skipped the check its HTTP twin had).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
import typing
from collections.abc import Callable
from typing import Any

import pytest
import reflex as rx

import state as state_package
from backend.runtime import Runtime
from backend.services.shares import ShareService
from state.current_user import CHECKS_SESSION
from tests.backend.runtime_support import owner, wait_until_final
from tests.security.support import saved_rows
from tests.state.support import in_tree

# "State.handler" -> why it needs no session check. The prefix says which kind:
#   ui:      changes only this tab's own, unsaved view state (no runtime, no database)
#   chains:  changes only view state, then returns a handler that checks the session
#   public:  meant for signed-out visitors, or acts only on the presented secret itself
ALLOWLIST: dict[str, str] = {
    # Reflex's generic setter on every state: with auto setters off (checked below) it only
    # dispatches to this state's own `set_<name>` handlers, each enumerated here by itself.
    **{
        f"{name}.setvar": "ui: Reflex's setvar calls only the state's own set_* handlers"
        for name in (
            "AuthState",
            "CompareState",
            "PaneOptionsState",
            "PromptImagesState",
            "DeleteComparisonState",
            "HistoryState",
            "ProjectsState",
            "SharePageState",
            "ShareDialogState",
            "AccountState",
            "KeysState",
            "VoteState",
            "EmailNoticeState",
            "LeaderboardState",
            "JudgeState",
            "ImproveState",
            "SearchState",
            "SimilarState",
            "LanguageState",
            "UsageState",
            "BatchState",
            "ConversationState",
        )
    },
    "SearchState.clear": "ui: empties this tab's search results",
    "SimilarState.typed": "chains: keeps the draft, then SimilarState.load checks the session",
    "SimilarState.clear": "ui: empties this tab's similar comparisons",
    "CompareState.use_models": "ui: an unsaved pane set of the suggested models (run re-checks)",
    "LanguageState.choose": (
        "public: sets this browser's language; saves it only on the session's own account"
    ),
    "AuthState.set_mode": "ui: switches the form between sign in and sign up",
    "AuthState.load_login": "public: the login page; only redirects a tab that is already signed in",
    "AuthState.sign_in": "public: checks the presented email and password (throttled)",
    "AuthState.sign_up": "public: creates an account (ALLOW_SIGN_UP)",
    "AuthState.sign_out": "public: revokes the session named by this tab's own cookie, nothing else",
    "AuthState.firebase_signed_in": "public: verifies the presented Firebase ID token",
    "AuthState.firebase_token_refreshed": "public: verifies the presented Firebase ID token",
    "CompareState.set_project": "ui: picks among the projects the load put in this tab (run re-checks)",
    "CompareState.set_prompt": "ui: edits the unsaved prompt",
    "ConversationState.set_message": "ui: edits the unsaved follow-up message",
    "ConversationState.set_target": "ui: picks the pane the follow-up goes to (send re-checks)",
    "CompareState.set_system_prompt": "ui: edits the unsaved system prompt",
    "CompareState.toggle_system": "ui: shows or hides the system prompt field",
    "CompareState.set_picker": "ui: the model picker's selection",
    "CompareState.set_sync_settings": "ui: copies settings between unsaved panes",
    "CompareState.set_sync_scroll": "ui: scroll panes together",
    "CompareState.set_use_cache": "ui: the unsaved 'use cache' switch (run re-checks)",
    "AccountState.set_revoke_tokens": "ui: the unsaved 'also revoke API tokens' box (the action re-checks)",
    "CompareState.set_blind": "ui: the unsaved 'blind' switch (run re-checks)",
    "CompareState.add_pane": "ui: adds an unsaved pane",
    "CompareState.remove_pane": "ui: removes a pane from the view",
    "CompareState.set_pane_model": "ui: an unsaved pane's model",
    "CompareState.set_dense": "ui: compact panes on this tab",
    "CompareState.set_pane_param": "ui: an unsaved pane's run parameter (temperature, max tokens …)",
    "CompareState.set_pane_temperature": "ui: an unsaved pane's temperature",
    "CompareState.set_pane_max_tokens": "ui: an unsaved pane's max tokens",
    "CompareState.toggle_expand": "ui: widens a pane",
    "PaneOptionsState.set_pane_option": "ui: an unsaved pane's optional parameter (top_p, stop …)",
    "PaneOptionsState.toggle_pane_options": "ui: shows or hides a pane's more settings",
    "PromptImagesState.remove_image": "ui: drops an image from the unsaved prompt",
    "CompareState.new_comparison": "ui: clears the view and goes to /",
    "HistoryState.set_project": "chains: sets the filter, then HistoryState.load checks the session",
    "HistoryState.next_page": "chains: turns the page, then HistoryState.load checks the session",
    "HistoryState.prev_page": "chains: turns the page, then HistoryState.load checks the session",
    "ShareDialogState.set_expiry": "ui: the expiry choice of the next link",
    "VoteState.set_best": "ui: the unsaved choice of best answer (submit checks the session)",
    "VoteState.set_comment": "ui: the unsaved comment (submit checks the session)",
    "VoteState.toggle_thumb": "ui: an unsaved thumb (submit checks the session)",
    "LeaderboardState.set_project": "chains: picks the project, then load checks the session",
    "LeaderboardState.set_source": "chains: picks the source, then load checks the session",
    "LeaderboardState.set_window": "chains: picks the window, then load checks the session",
    "LeaderboardState.set_style_control": "chains: style control on or off, then load checks the session",
    "LeaderboardState.set_baseline": "ui: the unsaved baseline of the next recommendation",
    "LeaderboardState.set_min_win_rate": "ui: the typed bar of the next recommendation",
    "UsageState.set_project": "chains: picks the project, then load checks the session",
    "UsageState.set_group": "chains: day or week, then load checks the session",
    "UsageState.set_window": "chains: picks the window, then load checks the session",
    "JudgeState.set_judge_model": "ui: the unsaved judge model choice (start checks the session)",
    "JudgeState.set_rubric": "ui: the unsaved rubric text (start and save_rubric check the session)",
    "JudgeState.set_turn": "ui: the turn the next judge is about (start checks the session)",
    "ImproveState.set_model": "ui: the unsaved choice of model that improves (propose checks the session)",
    "ImproveState.discard": "ui: drops the unsaved proposal from this tab's view",
    "BatchState.set_project": "chains: picks the project, then BatchState.load checks the session",
    "BatchState.set_name": "ui: the unsaved template name (save_template checks the session)",
    "BatchState.set_prompt": "ui: the unsaved template text (save_template and run check the session)",
    "BatchState.set_csv_text": "ui: the unsaved CSV text (run checks the session)",
    "BatchState.toggle_model": "ui: the unsaved choice of models (run checks the session)",
    "BatchState.set_assertion_kind": "ui: the unsaved assertion being added",
    "BatchState.set_assertion_value": "ui: the unsaved assertion being added",
    "BatchState.add_assertion": "ui: adds an unsaved assertion to the form",
    "BatchState.remove_assertion": "ui: removes an unsaved assertion from the form",
    "SharePageState.set_confirm_fork": "ui: opens or closes this tab's 'Fork again?' question",
    "SharePageState.load": "public: the shared page; the link's token is the secret (checks the "
    "session only to offer Fork)",
}


def _state_classes() -> dict[str, type[rx.State]]:
    for module in pkgutil.iter_modules(state_package.__path__):
        importlib.import_module(f"state.{module.name}")
    found: dict[str, type[rx.State]] = {}
    pending: list[type[Any]] = [rx.State]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("state."):
                assert sub.__name__ not in found, f"two states named {sub.__name__}"
                found[sub.__name__] = sub
    return found


STATES = _state_classes()
HANDLERS = sorted(f"{name}.{handler}" for name, cls in STATES.items() for handler in cls.event_handlers)


def _calls(fn: Callable[..., Any]) -> tuple[set[str], set[str]]:
    """(names of plain functions called, names of `self.<method>` called) in fn's source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    plain, on_self = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                plain.add(node.func.id)
            elif (
                isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "self"
            ):
                on_self.add(node.func.attr)
    return plain, on_self


# The functions that check a tab's session against the server (state/auth.py); the second
# takes the token a background event read under the state lock. A method wrapped in
# state.current_user.with_user (marked CHECKS_SESSION) calls them through the decorator.
SESSION_CHECKS = {"signed_in_user", "signed_in_user_for"}


def _checks_session(cls: type[rx.State], handler: str) -> bool:
    fn = cls.event_handlers[handler].fn
    if getattr(fn, CHECKS_SESSION, False):  # @with_user
        return True
    plain, helpers = _calls(fn)
    if SESSION_CHECKS & plain:
        return True
    for name in helpers:  # one level of `self._helper(...)`
        helper = inspect.getattr_static(cls, name, None)
        if inspect.isfunction(helper) and (
            getattr(helper, CHECKS_SESSION, False) or SESSION_CHECKS & _calls(helper)[0]
        ):
            return True
    return False


def _touches_runtime(fn: Callable[..., Any]) -> bool:
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    return any(isinstance(node, ast.Name) and node.id == "runtime" for node in ast.walk(tree))


def test_the_enumeration_sees_every_state() -> None:
    assert {"AuthState", "CompareState", "HistoryState", "ProjectsState", "AccountState", "KeysState"} <= set(
        STATES
    )
    assert len(HANDLERS) >= 50, HANDLERS
    from reflex_base.config import get_state_auto_setters

    assert get_state_auto_setters() is False  # setvar reaches only hand-written set_* handlers


@pytest.mark.parametrize("qualified", HANDLERS)
def test_handler_checks_the_session_or_is_allowlisted(qualified: str) -> None:
    name, handler = qualified.split(".")
    if handler == "setvar":
        assert qualified in ALLOWLIST, f"{name} is not in the setvar allowlist"
        return
    checked = _checks_session(STATES[name], handler)
    assert checked or qualified in ALLOWLIST, (
        f"{qualified} neither calls signed_in_user (directly or via a self._helper) nor is "
        "allowlisted with a reason"
    )
    reason = ALLOWLIST.get(qualified, "")
    if reason.startswith(("ui:", "chains:")):
        fn = STATES[name].event_handlers[handler].fn
        kind = reason.split(":")[0]
        assert not _touches_runtime(fn), f"{qualified} is listed as {kind} but uses the runtime"
        assert not checked, f"{qualified} checks the session now: take it off the allowlist"


def test_the_allowlist_names_only_existing_handlers() -> None:
    stale = set(ALLOWLIST) - set(HANDLERS)
    assert not stale, f"allowlisted handlers that no longer exist: {sorted(stale)}"
    for qualified, reason in ALLOWLIST.items():
        assert reason.split(":")[0] in ("ui", "chains", "public") and len(reason) > 12, qualified


# --- behaviour ------------------------------------------------------------------------------
GUARDED = [q for q in HANDLERS if q not in ALLOWLIST]
FORM = {
    "name": "pwned",
    "email": "eve@example.org",
    "role": "owner",
    "provider": "openai",
    "scope": "deployment",
    "api_key": "sk-planted-0000000000000000",
    "base_url": "http://127.0.0.1:9/v1",
    "budget": "0.01",
    "current": "correct horse battery staple",
    "new": "a brand new password",
    "confirm": "a brand new password",
    "display_name": "Eve",
}


def _argument(name: str, annotation: Any, ids: dict[str, str]) -> Any:
    """A plausible value for a handler parameter, aimed at Ada's data where it names something."""
    if annotation in (bool, "bool"):
        return True
    if "dict" in str(annotation):
        return dict(FORM)
    by_name = {
        "pane_id": "p0",
        "email": "ada@example.org",
        "role": "viewer",
        "provider": "openai",
        "token_id": ids.get("token_id", "x"),
        "share_id": ids.get("share_id", "x"),
        "project_id": ids.get("project_id", "x"),
    }
    return by_name.get(name, ids.get("comparison_id", "x"))


def _arguments(fn: Callable[..., Any], ids: dict[str, str]) -> list[Any]:
    hints = typing.get_type_hints(fn)
    return [
        _argument(p.name, hints.get(p.name, str), ids)
        for p in list(inspect.signature(fn).parameters.values())[1:]
        if p.default is inspect.Parameter.empty
    ]


async def _planted(rt: Runtime) -> dict[str, str]:
    """Ada's real ids and secrets, to plant in a signed-out tab."""
    ada = await owner(rt, "ada@example.org")
    record = await rt.comparisons.create(
        ada, {"prompt": "[[simulate:tokens=3]] ada's secret plan", "panes": [{"model": "simulated:instant"}]}
    )
    final = await wait_until_final(rt.comparisons, record.id)
    share = await ShareService(rt.db).create(ada, record.id)
    await rt.accounts.create_api_token(ada, "ada's token")
    token_id = (await rt.accounts.list_api_tokens(ada))[0].id
    return {
        "token_id": token_id,
        "comparison_id": record.id,
        "project_id": record.project_id,
        "run_id": final.runs[0].id,
        "share_id": share.share.id,
        "share_token": share.token,
    }


async def _plant(tab: rx.State, ids: dict[str, str]) -> None:
    from state.compare import CompareState
    from state.projects import ProjectsState
    from state.rows import PaneRow

    compare = await tab.get_state(CompareState)
    compare.comparison_id, compare.project_id = ids["comparison_id"], ids["project_id"]
    compare.prompt = "[[simulate:tokens=3]] run on ada's project"
    compare.panes = [
        PaneRow(pane_id="p0", model="simulated:instant", label="x", run_id=ids["run_id"], status="running")
    ]
    (await tab.get_state(ProjectsState)).selected_id = ids["project_id"]
    if hasattr(tab, "_token"):
        tab._token = ids["share_token"]


async def _outcome(result: Any) -> list[Any]:
    if inspect.isasyncgen(result):
        return [item async for item in result]
    if inspect.isawaitable(result):
        result = await result
    return result if isinstance(result, list) else [result]


@pytest.mark.parametrize("qualified", GUARDED)
async def test_signed_out_call_redirects_to_login_and_changes_nothing(rt: Runtime, qualified: str) -> None:
    name, handler = qualified.split(".")
    ids = await _planted(rt)
    before = await saved_rows(rt)
    tab = in_tree(STATES[name])
    await _plant(tab, ids)
    fn = STATES[name].event_handlers[handler].fn
    outcome = await _outcome(fn(tab, *_arguments(fn, ids)))
    assert any("/login" in str(item) for item in outcome), f"{qualified} returned {outcome!r}"
    assert await saved_rows(rt) == before, f"{qualified} changed saved data without a session"


@pytest.mark.parametrize("qualified", [q for q, r in ALLOWLIST.items() if r.startswith("chains:")])
async def test_chaining_handlers_hand_over_to_a_checked_load(qualified: str) -> None:
    name, handler = qualified.split(".")
    tab = in_tree(STATES[name])
    fn = STATES[name].event_handlers[handler].fn
    outcome = await _outcome(fn(tab, *_arguments(fn, {})))
    assert outcome == [STATES[name].load]  # type: ignore[attr-defined]
    assert _checks_session(STATES[name], "load")
