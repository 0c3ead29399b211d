"""One spelling per email address, so addresses that look the same are the same account.

Every email is put in its canonical form before it is looked up or stored (sign-up, sign-in,
invitations, Firebase users): Unicode NFKC (fullwidth ｅ becomes e), default-ignorable code
points removed (zero-width spaces and joiners, soft hyphens, bidi marks, variation selectors),
lower case, the domain's trailing dot dropped and the domain in its IDNA (punycode) form, so
`ada@ｅxample.org.` and `ada@example.org` are one address.  `confusable_problem` refuses an
address whose local part or a domain label mixes scripts (Latin with Cyrillic or Greek, say):
`аda@example.org` with a Cyrillic а would otherwise be a second account that looks like Ada's.
Japanese, Chinese and Korean mixes with Latin stay allowed (Unicode TR39's "highly restrictive").
"""

from __future__ import annotations

import unicodedata

import idna

from backend.i18n import N_

# Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt, Unicode 15).
_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)

# Scripts that may share one label (beside Common/Inherited characters such as digits).
_ALLOWED_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
_SCRIPT_ALIASES = {"CJK": "HAN", "KATAKANA-HIRAGANA": "KATAKANA", "HALFWIDTH": "KATAKANA"}

CONFUSABLE = N_("This address mixes alphabets (such as Latin and Cyrillic letters): type it in one alphabet.")


def is_default_ignorable(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _IGNORABLE_RANGES)


def _ascii_domain(domain: str) -> str:
    domain = domain.rstrip(".")
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return domain  # not a valid IDN: kept as typed, refused by the address check at sign-up


def canonical_email(email: str) -> str:
    """The address's one spelling (never raises: a lookup of a bad address just finds nothing)."""
    text = unicodedata.normalize("NFKC", email)
    text = "".join(c for c in text if not is_default_ignorable(c)).strip().lower()
    local, at, domain = text.rpartition("@")
    if not at:
        return text
    return f"{local}@{_ascii_domain(domain)}"


def _script(char: str) -> str | None:
    """The script of a letter, from its Unicode name's first word (None for digits, marks,
    punctuation: the Common and Inherited characters any script may use)."""
    if not unicodedata.category(char).startswith("L"):
        return None
    word = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_ALIASES.get(word, word)


def _mixes_scripts(label: str) -> bool:
    scripts = {s for s in map(_script, label) if s}
    return len(scripts) > 1 and not any(scripts <= mix for mix in _ALLOWED_MIXES)


def confusable_problem(email: str) -> str:
    """A message if the canonical address mixes scripts in its local part or a domain label."""
    canonical = canonical_email(email)
    local, _, domain = canonical.rpartition("@")
    try:
        labels = [idna.decode(p) if p.startswith("xn--") else p for p in domain.split(".")]
    except idna.IDNAError:
        return N_("This address's domain is not a valid internationalised domain name.")
    if any(_mixes_scripts(part) for part in (local, *labels)):
        return CONFUSABLE
    return ""
