"""Keep the message catalogs (backend/locales) in step with the code, and build the browser's copy.

    python -m tools.i18n extract   # add new msgids to both .po files (translations kept), drop unused
    python -m tools.i18n build     # backend/locales/*.po -> assets/i18n_catalogs.json
    python -m tools.i18n check     # exit 1 when a msgid is missing or untranslated in a catalog

Extraction is Babel's Python extractor with this app's keywords: `t("...")` (components),
`gettext(lang, "...")` (server side, the msgid is the second argument), `Message("...", n=1)`
(a service's message with figures, translated where it is shown) and `N_("...")` (a
message kept in English in a constant or a state var and translated where it is shown).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from backend.i18n import LANGUAGES, po_path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("components", "dashboard", "state", "backend")
KEYWORDS = {"t": None, "N_": None, "Message": None, "gettext": (2,)}
BROWSER_CATALOGS = ROOT / "assets" / "i18n_catalogs.json"


def extracted_msgids(folders: tuple[Path, ...] = ()) -> dict[str, list[str]]:
    """Every msgid in the code (or in `folders`) -> where it is used ('path:line')."""
    found: dict[str, list[str]] = {}
    for folder in folders or tuple(ROOT / name for name in SOURCE_DIRS):
        for filename, lineno, message, _comments, _context in extract_from_dir(
            folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            if isinstance(message, str) and message:
                found.setdefault(message, []).append(f"{folder.name}/{filename}:{lineno}")
    return found


def read_catalog(language: str) -> Catalog:
    with open(po_path(language), "rb") as handle:
        return read_po(handle, locale=language)


def problems(folders: tuple[Path, ...] = ()) -> list[str]:
    """What keeps the catalogs from being complete: a msgid the code uses that a catalog lacks
    or leaves untranslated."""
    used = extracted_msgids(folders)
    found = []
    for language in LANGUAGES:
        catalog = read_catalog(language)
        for msgid, places in sorted(used.items()):
            entry = catalog.get(msgid)
            if entry is None:
                found.append(f"{language}: missing {msgid!r} (used at {places[0]})")
            elif not entry.string:
                found.append(f"{language}: untranslated {msgid!r} (used at {places[0]})")
    return found


def extract() -> None:
    used = extracted_msgids()
    for language in LANGUAGES:
        path = po_path(language)
        old = read_catalog(language) if path.exists() else Catalog(locale=language)
        new = Catalog(locale=language, project="llm-dashboard", fuzzy=False)
        for msgid, places in sorted(used.items()):
            previous = old.get(msgid)
            string = previous.string if previous is not None else (msgid if language == "en" else "")
            new.add(
                msgid, string, locations=[(p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) for p in places]
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            write_po(handle, new, width=100, omit_header=False, sort_output=True)


def browser_catalogs() -> str:
    tables = {
        language: {str(m.id): str(m.string) for m in read_catalog(language) if m.id and m.string}
        for language in LANGUAGES
    }
    return json.dumps(tables, ensure_ascii=False, sort_keys=True, indent=0) + "\n"


def build() -> None:
    BROWSER_CATALOGS.write_text(browser_catalogs(), encoding="utf-8")


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "extract":
        extract()
    elif command == "build":
        build()
    elif command == "check":
        found = problems()
        print("\n".join(found) or "catalogs complete")
        return 1 if found else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
