"""Segments, encoding and cost: what an SMS will take and cost before it is sent.

Every case is counted by hand at a boundary: the last length that fits and the
first that does not.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from service.domain.segments import Measure, estimate_cost, measure, not_gsm7, room
from service.models.enums import Encoding

GSM, UCS = Encoding.gsm7, Encoding.ucs2
EMOJI = "\U0001f600"  # outside the BMP: two UTF-16 code units


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # An empty body still goes out (and is billed) as one message.
        ("", Measure(GSM, 0, 1)),
        ("a", Measure(GSM, 1, 1)),
        # One segment holds 160 septets; beyond that each part holds 153.
        ("a" * 160, Measure(GSM, 160, 1)),
        ("a" * 161, Measure(GSM, 161, 2)),
        ("a" * 306, Measure(GSM, 306, 2)),
        ("a" * 307, Measure(GSM, 307, 3)),
        # Names with letters GSM-7 has stay GSM-7 and cost one septet each.
        ("Ç" * 160, Measure(GSM, 160, 1)),
        # Extension characters take two septets.
        ("€" * 80, Measure(GSM, 160, 1)),
        ("a" * 159 + "€", Measure(GSM, 161, 2)),
        ("a" * 159 + "\f", Measure(GSM, 161, 2)),
        ("[" * 76 + "a", Measure(GSM, 153, 1)),
        # A part never ends between an extension character's escape and its septet:
        # 152 + 2 would be 154 in the first part, so the € starts the second one...
        ("a" * 152 + "€" + "a" * 152, Measure(GSM, 306, 3)),
        # ...while one septet earlier it closes the first part exactly.
        ("a" * 151 + "€" + "a" * 153, Measure(GSM, 306, 2)),
        # One character outside GSM-7 switches the whole body to UCS-2: 70 / 67.
        ("ê" * 70, Measure(UCS, 70, 1)),
        ("ê" * 71, Measure(UCS, 71, 2)),
        ("ê" * 134, Measure(UCS, 134, 2)),
        ("ê" * 135, Measure(UCS, 135, 3)),
        ("a" * 69 + "ê", Measure(UCS, 70, 1)),
        ("Hello " + EMOJI, Measure(UCS, 8, 1)),
        # An emoji is two code units.
        (EMOJI * 35, Measure(UCS, 70, 1)),
        (EMOJI * 35 + "a", Measure(UCS, 71, 2)),
        # A surrogate pair is never split: 66 + 2 would be 68 in the first part.
        ("a" * 66 + EMOJI + "a" * 66, Measure(UCS, 134, 3)),
        ("a" * 65 + EMOJI + "a" * 67, Measure(UCS, 134, 2)),
    ],
)
def test_measure_counts_units_and_segments(body: str, expected: Measure) -> None:
    assert measure(body) == expected


@pytest.mark.parametrize(
    ("segments_of", "price", "cost"),
    [
        ("a" * 160, "0.8", "0.8000"),
        ("a" * 307, "0.8", "2.4000"),
        ("ê" * 71, "1.25", "2.5000"),
        ("", "0.8", "0.8000"),
        # Four places, rounding half up like a price list.
        ("a", "0.00005", "0.0001"),
        ("a", "0.00004", "0.0000"),
        ("a" * 307, "0.33335", "1.0001"),  # 1.00005: half-even would give 1.0000
    ],
)
def test_cost_is_segments_times_price_to_four_places(
    segments_of: str, price: str, cost: str
) -> None:
    result = estimate_cost(measure(segments_of), Decimal(price))
    assert result == Decimal(cost)
    assert result.as_tuple().exponent == -4


def test_a_negative_price_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        estimate_cost(measure("hi"), Decimal("-0.1"))


@pytest.mark.parametrize(
    ("body", "left"),
    [
        ("", 160),
        ("a" * 160, 0),
        ("a" * 161, 153 - 8),  # the second part holds the last 8 (the first took 153)
        ("a" * 306, 0),
        ("€" * 79, 2),  # extension characters count two
        ("ê" * 70, 0),
        ("ê" * 71, 67 - 4),
        ("a" * 66 + EMOJI + "a" * 66, 67 - 1),  # the unsplit emoji pushed one "a" to a third
    ],
)
def test_room_says_what_the_last_segment_still_holds(body: str, left: int) -> None:
    found = room(body)
    assert found.left == left
    assert found.measure == measure(body)


def test_not_gsm7_names_each_character_once_in_order() -> None:
    assert not_gsm7("Karibu\u2019s \u201ctea\u201d \u2014 \u2019") == [
        "\u2019",
        "\u201c",
        "\u201d",
        "\u2014",
    ]
    assert not_gsm7("Plain text, with € and [brackets]") == []
    assert not_gsm7("Hi " + EMOJI) == [EMOJI]
