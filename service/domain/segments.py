"""How many segments an SMS takes, in which encoding, and what it costs.

A body is sent as GSM-7 when every character is in GSM 03.38 (`service.gsm7`),
otherwise as UCS-2, and the whole body switches: one emoji makes a 100-character
text cost two segments instead of one. The limits per segment:

| encoding | unit                           | one segment | each part of a longer text |
|----------|--------------------------------|-------------|----------------------------|
| GSM-7    | septet (extension chars: 2)    | 160         | 153                        |
| UCS-2    | UTF-16 code unit (emoji: 2)    | 70          | 67                         |

A longer text loses 7 septets (3 code units) per part to the concatenation
header. Phones cannot join half a character, so an extension character's escape
and its septet, or a surrogate pair, always travel in the same part: a part may
hold one unit fewer than its limit.

An empty body is one segment: a gateway still sends (and bills) one message.

A body is measured as it is: templates' values are already made GSM-7 by the SMS
channel (`service.gsm7.to_gsm7`: "Ŵiŵa" becomes "Wiwa"), but a body a person wrote
(a broadcast) is sent as written, so a "ŵ" in it is measured, and sent, as UCS-2;
`not_gsm7` names such characters so the console can suggest their GSM-7 stand-ins.

Pure functions, in the domain so every face measures alike: the SMS channel stores
what each message took, the console previews a broadcast before it is queued.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from service.gsm7 import ALPHABET, EXTENSION, is_gsm7
from service.models.enums import Encoding

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67

_FOUR_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Measure:
    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


@dataclass(frozen=True)
class Room:
    """A measure and how many units the last segment still holds before another starts."""

    measure: Measure
    left: int


def measure(body: str) -> Measure:
    return room(body).measure


def room(body: str) -> Room:
    """The measure, and the units left in its last segment (what a writer may still add)."""
    if is_gsm7(body):
        widths = [2 if ch in EXTENSION else 1 for ch in body]
        return _pack(Encoding.gsm7, widths, GSM7_SINGLE, GSM7_PART)
    # Characters beyond the Basic Multilingual Plane (most emoji) are a surrogate pair.
    widths = [2 if ord(ch) > 0xFFFF else 1 for ch in body]
    return _pack(Encoding.ucs2, widths, UCS2_SINGLE, UCS2_PART)


def _pack(encoding: Encoding, widths: Iterable[int], single: int, part: int) -> Room:
    widths = list(widths)
    units = sum(widths)
    if units <= single:
        return Room(Measure(encoding, units, 1), single - units)
    segments, used = 1, 0
    for width in widths:
        if used + width > part:  # never split one character across two parts
            segments, used = segments + 1, 0
        used += width
    return Room(Measure(encoding, units, segments), part - used)


def not_gsm7(body: str) -> list[str]:
    """The characters that make `body` UCS-2, each once, in the order they first appear."""
    return list(dict.fromkeys(ch for ch in body if ch not in ALPHABET))


def estimate_cost(measure: Measure, price: Decimal) -> Decimal:
    """What the message costs at `price` per segment, to four decimal places.

    Half-up rounding, like a price list: 0.00005 is billed as 0.0001.
    """
    if price < 0:
        raise ValueError(f"a price per segment cannot be negative: {price}")
    return (price * measure.segments).quantize(_FOUR_PLACES, rounding=ROUND_HALF_UP)
