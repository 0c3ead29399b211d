"""Japanese and English for everything the app says to people (issue 16).

The catalogs are gettext .po files, one per language, in backend/locales/<lang>/LC_MESSAGES/
messages.po; the msgid is the English text. `python -m tools.i18n extract` collects the msgids
from the code with Babel (calls of `t(...)` in components/, `gettext(lang, ...)` and `N_(...)`
everywhere) and `python -m tools.i18n build` turns the catalogs into assets/i18n_catalogs.json,
which the browser reads (assets/i18n.js). Server code reads the .po files here, with Babel.

Placeholders are `{name}` (str.format on the server, the same replacement in the browser).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime as babel_format_datetime
from babel.lists import format_list
from babel.messages.pofile import read_po
from babel.numbers import format_currency as babel_format_currency
from babel.numbers import format_decimal as babel_format_decimal
from babel.units import format_unit

LANGUAGES = ("en", "ja")
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "lang"  # set by the browser (assets/i18n.js) when the person chooses
LOCALES_DIR = Path(__file__).resolve().parent / "locales"


def po_path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"


@functools.cache
def catalog(language: str) -> dict[str, str]:
    """msgid -> translation for `language` (untranslated entries left out: they fall back)."""
    with open(po_path(language), "rb") as handle:
        po = read_po(handle, locale=language)
    return {str(m.id): str(m.string) for m in po if m.id and isinstance(m.id, str) and m.string}


class Localizable:
    """A figure of a Message that reads differently per language (a duration, an amount, a
    nested Message): filled in as `in_language(language)` where the message is said."""

    def in_language(self, language: str | None) -> str:
        raise NotImplementedError


def _figures(params: dict[str, object], language: str | None) -> dict[str, object]:
    return {k: v.in_language(language) if isinstance(v, Localizable) else v for k, v in params.items()}


class Message(str, Localizable):
    """English text with figures in it that remembers its msgid and figures, so that it can be
    said again in another language (`gettext(lang, message)`, `localize`). Anywhere a str goes
    it is the English text, so services, logs and existing callers see no difference. A figure
    may itself be Localizable (Duration, Usd, another Message): it is said in the same language."""

    msgid: str
    params: dict[str, object]

    def __new__(cls, msgid: str, **params: object) -> Message:
        text = super().__new__(cls, msgid.format(**_figures(params, DEFAULT_LANGUAGE)) if params else msgid)
        text.msgid, text.params = msgid, params
        return text

    def __str__(self) -> str:
        # str(message) and str(exception) keep the Message (a str all the same), so a handler
        # showing `str(exc)` can still say it in the reader's language.
        return self

    def in_language(self, language: str | None) -> str:
        return gettext(language, self)


class Duration(Localizable):
    """A wait as people of the language say it: whole seconds under two minutes, then whole
    minutes (rounded up: never shorter than the wait), then hours and minutes (Babel's units)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = max(1, math.ceil(seconds))

    def in_language(self, language: str | None) -> str:
        return format_duration(self.seconds, language)


class When(Localizable):
    """A date and time as people of the language write it (format_datetime)."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def in_language(self, language: str | None) -> str:
        return format_datetime(self.moment, language)


def utc_moment(moment: datetime) -> Message:
    """A moment as pages show it: the date and time in the reader's language, then "UTC"."""
    return Message("{when} UTC", when=When(moment))


def utc_moment_in_every_language(moment: datetime | None, missing: str = "") -> str:
    """`utc_moment` as page state keeps it (`in_every_language`), or `missing` when there is none."""
    return in_every_language(utc_moment(moment)) if moment else missing


class Number(Localizable):
    """A count with the locale's grouping (format_number)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def in_language(self, language: str | None) -> str:
        return format_number(self.value, language)


class Usd(Localizable):
    """An amount in US dollars, in the locale's currency format (format_usd)."""

    def __init__(self, amount: float, digits: int = 2) -> None:
        self.amount, self.digits = amount, digits

    def in_language(self, language: str | None) -> str:
        return format_usd(self.amount, language, self.digits)


def localize(language: str | None, text: str) -> str:
    """A Message in `language`; other text as it is (fixed msgids are translated in the browser)."""
    return gettext(language, text) if isinstance(text, Message) else text


# A Message kept for the page (state vars) in every language, so that the page can show it in
# whichever language the person switches to without asking the server again: the text between
# SAID_OPEN and SAID_CLOSE is {"m": msgid, "en": ..., "ja": ...}, which assets/i18n.js's i18nT
# (every `t_var`) shows in the page's language. The server formats each language (Babel's
# figures, format specs such as {n:,}), so the browser only picks. Private-use characters mark
# it: JSON with ensure_ascii never contains them, and they need no escaping in a regex.
SAID_OPEN, SAID_CLOSE = "\ue000", "\ue001"
_SAID = re.compile(SAID_OPEN + "(.*?)" + SAID_CLOSE, re.DOTALL)


def in_every_language(text: str) -> str:
    """A Message as page state keeps it (every language); other text as it is (a fixed msgid is
    translated in the browser, a provider's own words are shown as written). Such texts may be
    joined with other text: each Message in it is shown in the page's language."""
    if not isinstance(text, Message):
        return text
    said = {language: gettext(language, text) for language in LANGUAGES}
    return (
        SAID_OPEN
        + json.dumps({"m": text.msgid, **said}, ensure_ascii=True, separators=(",", ":"))
        + SAID_CLOSE
    )


def joined_in_every_language(texts: Iterable[str], separator: str = " ") -> str:
    """Messages shown as one line (a form's refusals): each in the page's language. One alone is
    kept as `in_every_language` does; of several, fixed msgids are kept in every language too
    (the page looks up a whole text in the catalogs, never the sentences inside it)."""
    said = [text for text in texts if text]
    if len(said) == 1:
        return in_every_language(said[0])
    return separator.join(
        text if SAID_OPEN in text else in_every_language(text if isinstance(text, Message) else Message(text))
        for text in said
    )


def said_in(language: str | None, text: str) -> str:
    """`text` from page state as `t_var` shows it in `language` (assets/i18n.js's i18nT): each
    Message kept in every language said in it, else the text looked up in the catalog (a fixed
    msgid translated, other text as it is). For tests and server-side reading."""
    chosen = normalize(language) or DEFAULT_LANGUAGE
    if SAID_OPEN not in text:
        return gettext(chosen, text)

    def pick(match: re.Match[str]) -> str:
        said = json.loads(match.group(1))
        return str(said.get(chosen) or said.get(DEFAULT_LANGUAGE) or said.get("m", ""))

    return _SAID.sub(pick, text)


@functools.cache
def _pattern(msgid: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", msgid)  # literal, name, literal, name, …, literal
    if "{" in "".join(parts[::2]):
        raise ValueError(f"only plain {{name}} placeholders can be recognized: {msgid!r}")
    groups = (re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
    return re.compile("".join(groups), re.DOTALL)


def recognize(text: str, msgids: tuple[str, ...]) -> str:
    """Text stored in English (a run's error, a key's test) as the Message it was made from,
    when it reads as one of `msgids` with its figures filled in, so that it can be said in
    another language; other text as it is (fixed msgids are translated where shown)."""
    if isinstance(text, Message):
        return text
    for msgid in msgids:
        if found := _pattern(msgid).fullmatch(text):
            return Message(msgid, **found.groupdict())
    return text


def N_(msgid: str) -> str:
    """Marks a message kept in English (a constant, a state var) that is translated where shown."""
    return msgid


def normalize(language: str | None) -> str | None:
    """'ja-JP' -> 'ja'; None for a language the app does not speak."""
    if not language:
        return None
    primary = language.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else None


def gettext(language: str | None, msgid: str, **params: object) -> str:
    """`msgid` in `language` (English when unknown), with `{name}` placeholders filled in."""
    if isinstance(msgid, Message):
        message = msgid
        msgid, params = message.msgid, {**message.params, **params}
    text = catalog(normalize(language) or DEFAULT_LANGUAGE).get(msgid) or msgid
    return text.format(**_figures(params, language)) if params else text


def negotiate(accept_language: str | None) -> str:
    """The best of our languages for an Accept-Language header (English when none fits)."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, rest = part.strip().partition(";")
        quality = 1.0
        if rest.strip().startswith("q="):
            try:
                quality = float(rest.strip()[2:])
            except ValueError:
                quality = 0.0
        language = normalize(tag)
        if language and quality > 0:
            choices.append((-quality, index, language))
    return min(choices)[2] if choices else DEFAULT_LANGUAGE


def cookie_language(cookie_header: str | None) -> str | None:
    """The language chosen in this browser (the `lang` cookie), if any."""
    for part in (cookie_header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == LANGUAGE_COOKIE:
            return normalize(value)
    return None


def request_language(cookie_header: str | None, accept_language: str | None) -> str:
    """The browser's choice first, then what it asks for."""
    return cookie_language(cookie_header) or negotiate(accept_language)


# --- formatting for the locale (Babel's CLDR data) -------------------------------------


def _locale(language: str | None) -> Locale:
    return Locale.parse(normalize(language) or DEFAULT_LANGUAGE)


def format_datetime(moment: datetime, language: str | None) -> str:
    """A date and time as people of `language` write it ('Dec 4, 2026, 7:55 PM' / '2026/12/04 19:55')."""
    return babel_format_datetime(moment, "medium", locale=_locale(language)).replace("\u202f", " ")


def format_number(value: float, language: str | None) -> str:
    return babel_format_decimal(value, locale=_locale(language))


def format_usd(amount: float, language: str | None, digits: int = 2) -> str:
    """A cost in US dollars, with the locale's grouping and sign placement; a small non-zero
    amount keeps four decimals (so $0.0004 is not $0.00)."""
    if 0 < amount < 10 ** (-digits):
        digits = 4
    return babel_format_currency(
        amount, "USD", format="¤#,##0." + "0" * digits, locale=_locale(language), currency_digits=False
    )


def format_duration(seconds: int, language: str | None) -> str:
    """'45 seconds' / '45 秒', '3 minutes' / '3 分', '2 hours, 5 minutes' / '2 時間 5 分'; minutes
    and hours rounded up, as a wait should be."""
    locale = _locale(language)
    if seconds < 120:
        return format_unit(seconds, "duration-second", length="long", locale=locale)
    minutes = math.ceil(seconds / 60)
    if minutes < 120:
        return format_unit(minutes, "duration-minute", length="long", locale=locale)
    parts = [format_unit(minutes // 60, "duration-hour", length="long", locale=locale)]
    if minutes % 60:
        parts.append(format_unit(minutes % 60, "duration-minute", length="long", locale=locale))
    return format_list(parts, style="unit", locale=locale)
