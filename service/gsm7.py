"""The GSM 03.38 alphabet: what fits in one USSD screen or SMS segment.

USSD screens and SMS both count in GSM-7 septets: most characters take one, the
extension set (`^{}\\[~]|€` and form feed) takes two, and anything else forces
UCS-2 for the whole text. Shared by the USSD menus and the SMS channel.
"""

from __future__ import annotations

BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = frozenset("^{}\\[~]|€\f")

# Characters people type or names carry that GSM-7 lacks, and the closest it has.
_FALLBACK = str.maketrans({
    "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u2026": "...",
    "ê": "e", "ë": "e", "â": "a", "á": "a", "î": "i", "ï": "i", "í": "i",
    "ô": "o", "ó": "o", "û": "u", "ú": "u", "ç": "c", "È": "E", "Ê": "E",
    "À": "A", "Â": "A", "Î": "I", "Ô": "O", "Û": "U", "•": "*", "\u00a0": " ",
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
    """Replace what GSM-7 lacks with its nearest letter, and drop what has none."""
    text = text.translate(_FALLBACK)
    if ALPHABET.issuperset(text):
        return text
    return "".join(ch for ch in text if ch in ALPHABET)


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
