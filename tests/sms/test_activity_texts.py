"""The toolkit activity in the SMS: the 48-hour reminder and the facilitators' prepare SMS.

The title takes the room the rest leaves: cut, never below ACTIVITY_MIN, its page
always beside it, a link only whole; one segment whatever the values.
"""

from __future__ import annotations

import tomllib

import pytest

from service.domain.segments import measure
from service.gsm7 import septets
from service.models.enums import Encoding, Language
from sms.texts import ACTIVITY_MIN, FOLDER, SmsTexts

KIGALI = "Africa/Kigali"
LANGUAGES = list(Language)

MEETING = {
    "community": "P6 Maths Kimironko",
    "starts_at": "2026-11-24T12:00:00+00:00",
    "venue": "GS Kimironko II",
    "modality": "in_person",
    "code": "4821",
}
TITLE = "Fractions with paper strips"
# As long as the database keeps each: a community or venue is cut to 30 by the texts.
LONG_NAME = "Groupe Scolaire Nyamirambo Mathematics and Science Teachers Community"
LONG_TITLE = ("Learning fractions through play: paper strips, number lines and sharing " * 2)[:120]
LONG_LINK = "https://toolkit.example.org/" + "x" * 72


@pytest.fixture(scope="module")
def texts() -> SmsTexts:
    return SmsTexts.load()


def page_text(language: Language, page: int) -> str:
    """The language's own way of writing a toolkit page, from its file."""
    tree = tomllib.loads((FOLDER / f"{language.value}.toml").read_text(encoding="utf-8"))
    text: str = tree["activity"]["page"]
    return text.format(page=page)


def one_segment(text: str) -> bool:
    size = measure(text)
    return size.encoding is Encoding.gsm7 and size.segments == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_reminder_names_the_activity_and_its_toolkit_page(
    texts: SmsTexts, language: Language
) -> None:
    params = MEETING | {"activity": TITLE, "activity_page": 12}
    text = texts.render("reminder_activity", language, params, timezone=KIGALI)
    assert f"{TITLE} {page_text(language, 12)}" in text
    plain = texts.render("reminder", language, MEETING, timezone=KIGALI)
    # Everything the plain reminder says is there too: the reply words and the code.
    assert text.count("4821") == plain.count("4821") == 2
    assert page_text(language, 12) != "{page}" and one_segment(text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_short_link_is_shown_whole_when_there_is_no_page(
    texts: SmsTexts, language: Language
) -> None:
    params = MEETING | {"activity": TITLE, "activity_link": "https://cop.rw/a12"}
    text = texts.render("reminder_activity", language, params, timezone=KIGALI)
    assert "https://cop.rw/a12" in text and one_segment(text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_long_title_is_cut_to_fit_one_segment_and_keeps_its_page(
    texts: SmsTexts, language: Language
) -> None:
    params = MEETING | {
        "community": LONG_NAME,
        "venue": LONG_NAME,
        "activity": LONG_TITLE,
        "activity_page": 9999,
    }
    text = texts.render("reminder_activity", language, params, timezone=KIGALI)
    assert one_segment(text), f"{septets(text)} septets: {text}"
    # The title is there, shortened with a full stop, and the page still follows it.
    assert LONG_TITLE[: ACTIVITY_MIN - 1] in text
    assert LONG_TITLE not in text
    assert f". {page_text(language, 9999)}" in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_link_too_long_for_the_room_left_is_left_out_not_cut(
    texts: SmsTexts, language: Language
) -> None:
    params = MEETING | {"community": LONG_NAME, "activity": TITLE, "activity_link": LONG_LINK}
    text = texts.render("reminder_activity", language, params, timezone=KIGALI)
    assert "https://" not in text
    assert TITLE[: ACTIVITY_MIN - 1] in text and one_segment(text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_with_the_opt_out_footer_and_no_room_the_reminder_goes_without_its_activity(
    texts: SmsTexts, language: Language
) -> None:
    # A 30-character community and venue leave the footer no room for any title: the
    # person's first message must say how to opt out, so the activity gives way.
    params = MEETING | {
        "community": LONG_NAME,
        "venue": LONG_NAME,
        "activity": LONG_TITLE,
        "activity_page": 9999,
    }
    text = texts.render("reminder_activity", language, params, timezone=KIGALI, footer=True)
    plain = texts.render("reminder", language, params, timezone=KIGALI, footer=True)
    assert text == plain and one_segment(text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_prepare_sms_carries_the_activity_even_with_the_longest_values_and_footer(
    texts: SmsTexts, language: Language
) -> None:
    params = MEETING | {
        "community": LONG_NAME,
        "starts_at": "2027-09-29T12:00:00+00:00",
        "code": "99999",
        "activity": LONG_TITLE,
        "activity_page": 9999,
    }
    text = texts.render("prepare", language, params, timezone=KIGALI, footer=True)
    assert one_segment(text), f"{septets(text)} septets: {text}"
    assert LONG_TITLE[: ACTIVITY_MIN * 2] in text
    assert page_text(language, 9999) in text and "99999" in text
