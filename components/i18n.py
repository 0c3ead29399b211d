"""`t("English text")`: a string of the UI in the page's language, looked up in the browser.

Components stay pure functions: `t` returns a Var (a JavaScript expression) that reads the
page's language through a React hook (assets/i18n.js) and the catalogs built from
backend/locales (`python -m tools.i18n build`). Nothing here knows about state classes.

- `t("Run")`: a fixed string; tests/components/test_i18n_catalogs.py fails when its msgid is
  missing from either catalog.
- `t("{n} panes", n=var)`: placeholders filled in the browser from Vars or plain values.
- `t_var(state_var)`: a message a handler set in English (marked with `N_` where it is
  written); shown translated, or as sent when the catalogs do not have it. A message with
  figures that the server kept in every language (backend.i18n.in_every_language) shows in the
  page's language, and again when the person switches it.
- `said(state_var)`: text of people (a prompt's first line) shown as it is, never looked up in
  the catalogs, except a message in it kept in every language (e.g. "(empty prompt)").
"""

from __future__ import annotations

import json
from typing import Any

import reflex as rx
from reflex.vars.base import VarData
from reflex.vars.function import FunctionStringVar

from backend.i18n import DEFAULT_LANGUAGE, LANGUAGES

I18N_JS = "$/public/i18n.js"

_LANG_HOOK = "const i18nLang = useI18nLang();"
_LANG_VAR_DATA = VarData(imports={I18N_JS: ["useI18nLang", "i18nT", "i18nSaid"]}, hooks={_LANG_HOOK: None})
_LANG: rx.Var[str] = rx.Var(_js_expr="i18nLang", _var_type=str, _var_data=_LANG_VAR_DATA)
_LOOKUP: FunctionStringVar = FunctionStringVar.create("i18nT", _var_data=_LANG_VAR_DATA)
_SAID: FunctionStringVar = FunctionStringVar.create("i18nSaid", _var_data=_LANG_VAR_DATA)

LANGUAGE_NAMES = {"en": "English", "ja": "日本語"}
assert set(LANGUAGE_NAMES) == set(LANGUAGES)


def current_language() -> rx.Var[str]:
    """The page's language ("en" | "ja") as a Var, e.g. for the language select's value."""
    return _LANG


def t(msgid: str, **params: Any) -> rx.Var[str]:
    """`msgid` (its English text) in the page's language."""
    args: list[Any] = [_LANG, msgid]
    if params:
        args.append(rx.Var.create(params))
    return _LOOKUP.call(*args).to(str)


def t_var(message: rx.Var[str]) -> rx.Var[str]:
    """A message from state, kept in English there, in the page's language."""
    return _LOOKUP.call(_LANG, message).to(str)


def said(text: rx.Var[str]) -> rx.Var[str]:
    """Text of people from state as it is; a message in it kept in every language in the page's."""
    return _SAID.call(_LANG, text).to(str)


# Before the first paint of a prerendered page (English): when this browser will show another
# language (the same choice as assets/i18n.js: the `lang` cookie, else the first of the
# browser's languages we speak), hide the page until it has rendered in that language, so the
# English never flashes. A fallback shows it after a few seconds whatever happens. (The style
# is set through the CSSOM, which the page's CSP allows, so it holds before styles.css loads.)
PENDING_FALLBACK_MS = 4000
_BOOT = (
    "(function(){var d=document.documentElement,o=%(others)s,"
    "c=document.cookie.match(/(?:^|;\\s*)lang=([^;]*)/),"
    "t=c?[c[1]]:(navigator.languages||[navigator.language]),i,l;"
    "for(i=0;i<t.length;i++){l=String(t[i]||'').split(/[-_]/)[0].toLowerCase();"
    "if(l==='%(default)s'){return}if(o.indexOf(l)>=0){break}l=null}"
    "if(!l){return}d.classList.add('i18n-pending');d.style.visibility='hidden';"
    "setTimeout(function(){d.classList.remove('i18n-pending');d.style.removeProperty('visibility')},%(ms)d)"
    "})();"
)


def language_boot_script() -> rx.Component:
    """The <head> script that keeps a non-English page hidden until it speaks its language."""
    others = [language for language in LANGUAGES if language != DEFAULT_LANGUAGE]
    code = _BOOT % {"others": json.dumps(others), "default": DEFAULT_LANGUAGE, "ms": PENDING_FALLBACK_MS}
    return rx.el.script(
        code
    )  # a plain <script> in the document's head (rx.script goes through Helmet, after hydration)
