"""The message catalogs are complete in both languages, and the browser's copy is current."""

from __future__ import annotations

from pathlib import Path

import reflex as rx

from backend.i18n import LANGUAGES, catalog
from components.i18n import t, t_var
from tools.i18n import BROWSER_CATALOGS, browser_catalogs, extracted_msgids, problems


def test_every_msgid_of_the_code_is_translated_in_both_catalogs() -> None:
    assert problems() == []


def test_a_msgid_missing_from_the_catalogs_is_reported_for_each_language(tmp_path: Path) -> None:
    (tmp_path / "page.py").write_text(
        "from components.i18n import t\nfrom backend.i18n import N_, gettext\n"
        'LABEL = t("A label nobody translated")\n'
        'NOTE = N_("Run")\n'  # in the catalogs: no problem
        'SAID = gettext("ja", "A message nobody translated")\n'
    )
    found = problems((tmp_path,))
    assert len(found) == 2 * len(LANGUAGES), found
    for language in LANGUAGES:
        assert any(p.startswith(f"{language}: missing 'A label nobody translated'") for p in found)
        assert any(p.startswith(f"{language}: missing 'A message nobody translated'") for p in found)


def test_the_extractor_sees_the_compare_pages_strings() -> None:
    used = extracted_msgids()
    for msgid in ("Run", "Stop", "Compare", "History", "Prompt", "Sign out", "Enter a prompt."):
        assert msgid in used, msgid


def test_the_browsers_catalogs_are_built_from_the_po_files() -> None:
    assert BROWSER_CATALOGS.read_text(encoding="utf-8") == browser_catalogs(), (
        "run `python -m tools.i18n build`"
    )


def test_japanese_is_japanese() -> None:
    ja = catalog("ja")
    assert ja["Run"] == "実行" and ja["Stop"] == "停止" and ja["History"] == "履歴"
    assert ja["{count} of {max} panes"].count("{count}") == 1  # placeholders survive translation
    for msgid, text in ja.items():
        assert text != msgid or not any(c.isalpha() for c in msgid), f"left in English: {msgid!r}"


def test_t_compiles_to_a_lookup_in_the_browser() -> None:
    label = t("Run")
    assert str(label) == '(i18nT(i18nLang, "Run"))'
    hooks = label._get_all_var_data().hooks  # type: ignore[union-attr]
    assert "const i18nLang = useI18nLang();" in hooks
    with_params = str(t("{count} of {max} panes", count=rx.Var.create(2), max=8))
    assert '"{count} of {max} panes"' in with_params and '["count"] : 2' in with_params
    assert str(t_var(rx.Var(_js_expr="message", _var_type=str))) == "(i18nT(i18nLang, message))"
