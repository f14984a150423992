"""The GSM 03.38 alphabet: what fits in one USSD screen or SMS segment.

USSD screens and SMS both count in GSM-7 septets: most characters take one, the
extension set (`^{}\\[~]|€` and form feed) takes two, and anything else forces
UCS-2 for the whole text. Shared by the USSD menus and the SMS channel.
"""

from __future__ import annotations

import unicodedata
from functools import cache

BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = frozenset("^{}\\[~]|€\f")

# Characters people type or names carry that GSM-7 lacks and that no accent-stripping
# reaches: typographic punctuation and spaces, and letters with no decomposition.
_SUBSTITUTES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-",
    "\u2026": "...", "\u2022": "*",
    "\t": " ", "\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u202f": " ",
    "\u200b": "", "\ufeff": "",
    # Older Chichewa spelling writes ng' as one letter.
    "\u014b": "ng'", "\u014a": "Ng'",
    "\u0111": "d", "\u0110": "D", "\u0142": "l", "\u0141": "L", "\u0153": "oe", "\u0152": "OE",
})  # fmt: skip

ALPHABET = BASIC | EXTENSION


def is_gsm7(text: str) -> bool:
    return ALPHABET.issuperset(text)  # a set operation in C: SMS bodies pass by the 100,000


def septets(text: str) -> int:
    """Length in GSM-7 septets; raises ValueError if the text is not GSM-7."""
    total = 0
    for ch in text:
        if ch in BASIC:
            total += 1
        elif ch in EXTENSION:
            total += 2
        else:
            raise ValueError(f"{ch!r} is not in the GSM-7 alphabet")
    return total


def to_gsm7(text: str) -> str:
    """The text in GSM-7: what GSM-7 lacks becomes its nearest letters, else is dropped.

    Curly quotes, dashes, "…" and odd spaces become their plain forms; a letter GSM-7
    lacks loses its accent (Chichewa "Ŵiŵa" is "Wiwa", "ĉ" is "c", "ê" is "e") while
    the accented letters GSM-7 has stay ("é", "Ü", "ñ", "Ç"). What has no stand-in
    (emoji, other scripts) is dropped.
    """
    if ALPHABET.issuperset(text):
        return text  # nearly every text: one set operation in C
    text = unicodedata.normalize("NFC", text).translate(_SUBSTITUTES)
    if ALPHABET.issuperset(text):
        return text
    return "".join(ch if ch in ALPHABET else _stand_in(ch) for ch in text)


@cache
def _stand_in(ch: str) -> str:
    """The letters a character decomposes to without its accents, if GSM-7 has them all."""
    decomposed = unicodedata.normalize("NFKD", ch)
    base = "".join(part for part in decomposed if not unicodedata.combining(part))
    return base if ALPHABET.issuperset(base) else ""


def truncate(text: str, limit: int) -> str:
    """At most `limit` septets, cut with '.' if it had to be shortened."""
    text = to_gsm7(text)
    if septets(text) <= limit:
        return text
    out = ""
    for ch in text:
        if septets(out + ch) > limit - 1:
            break
        out += ch
    return out.rstrip() + "."
