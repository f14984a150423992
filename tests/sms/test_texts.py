"""The SMS texts: complete in every language, GSM-7, one segment, in the programme's time."""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from service.domain.segments import measure
from service.gsm7 import septets
from service.models.enums import Encoding, Language, Modality
from sms.keywords import Keyword, parse
from sms.texts import (
    FOLDER,
    FOOTER_MAY_NEED_TWO_SEGMENTS,
    TEXT_ROOM,
    TEXT_SECTIONS,
    CatalogueError,
    RenderError,
    SmsTexts,
)

EN, SW, RW, FR = Language.en, Language.sw, Language.rw, Language.fr
KIGALI, NAIROBI = "Africa/Kigali", "Africa/Nairobi"

TEMPLATES = {
    "reminder", "moved", "cancelled", "rsvp_yes", "rsvp_no", "checked_in",
    "checked_in_remote", "stopped", "started", "help", "unknown", "unknown_code",
    "which_meeting", "no_meeting", "meeting_closed", "checkin_not_open",
    "not_facilitator", "remind_sent", "reminded_recently", "cancel_done", "survey_invite",
    "remind_held", "remind_dropped", "remind_nobody", "cancel_held", "cancel_dropped",
    "cancel_nobody", "sign_in_code",
    "survey_hint_choice", "survey_hint_yes_no", "survey_hint_rating", "survey_hint_number",
    "survey_hint_text", "survey_reask", "survey_done", "reminder_activity", "prepare",
    # [membership]: a join request, its answer, a facilitator's invitation
    "join_request", "join_approved", "join_declined", "invited",
}  # fmt: skip
# A facilitator's commands and teachers' texts passed on: the [conversation] table.
CONVERSATION = {
    "msg_sent", "msg_held", "msg_nobody", "msg_usage", "who", "who_all", "who_more",
    "who_usage", "forwarded", "forward_passed", "forward_already", "forward_nobody",
    "forward_later", "to_message", "to_sent", "to_ambiguous", "to_unknown", "to_cannot",
    "to_usage",
}  # fmt: skip
# Replies to WHATSAPP and SMS, the channel a person chose: the [reach] table.
REACH = {"reach_whatsapp", "reach_sms"}

NOV_24_NOON_UTC = "2026-11-24T12:00:00+00:00"  # a Tuesday
MEETING = {
    "community": "P6 Maths Kimironko",
    "starts_at": NOV_24_NOON_UTC,
    "venue": "GS Kimironko II",
    "modality": "in_person",
    "code": "4821",
}


@pytest.fixture(scope="module")
def texts() -> SmsTexts:
    return SmsTexts.load()


def test_the_texts_load_with_every_template(texts: SmsTexts) -> None:
    # the digest is tested in test_digest.py
    assert texts.keys() == TEMPLATES | CONVERSATION | REACH | {
        "digest",
        "button_yes",
        "button_no",
        "option_yes",
        "option_no",
        "whatsapp_stopped",
    }


# --- what people read ---------------------------------------------------------


def test_a_reminder_names_the_community_time_place_and_how_to_reply(texts: SmsTexts) -> None:
    assert texts.render("reminder", EN, MEETING, timezone=KIGALI) == (
        "CoP P6 Maths Kimironko: meeting Tue 24 Nov 14:00, GS Kimironko II. "
        "Reply YES 4821 or NO 4821."
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            EN,
            "CoP P6 Maths Kimironko: meeting Tue 24 Nov 14:00, WhatsApp. Reply YES 4821 or NO 4821.",
        ),
        (
            SW,
            "P6 Maths Kimironko: mkutano Jnn 24 Nov 14:00, WhatsApp. Jibu NDIYO 4821 au HAPANA 4821.",
        ),
        (
            RW,
            "P6 Maths Kimironko: inama Kw2 24 Ugu 14:00, WhatsApp. Subiza YEGO 4821 cyangwa OYA 4821.",
        ),
        (
            FR,
            "P6 Maths Kimironko : réunion mar 24 nov 14h00, WhatsApp. Répondez OUI 4821 ou NON 4821.",
        ),
    ],
)
def test_a_reminder_with_no_venue_says_how_to_join_in_each_language(
    texts: SmsTexts, language: Language, expected: str
) -> None:
    params = MEETING | {"venue": "", "modality": "remote_whatsapp"}
    assert texts.render("reminder", language, params, timezone=KIGALI) == expected


@pytest.mark.parametrize(
    ("modality", "shown"),
    [("in_person", "in person"), ("phone", "by phone"), ("hybrid", "in person or online")],
)
def test_the_modality_is_translated(texts: SmsTexts, modality: str, shown: str) -> None:
    params = MEETING | {"venue": None, "modality": modality}
    assert f"14:00, {shown}." in texts.render("reminder", EN, params, timezone=KIGALI)


def test_a_moved_meeting_shows_both_times(texts: SmsTexts) -> None:
    params = MEETING | {"old_starts_at": "2026-11-23T12:00:00+00:00"}
    assert texts.render("moved", EN, params, timezone=KIGALI) == (
        "CoP P6 Maths Kimironko: meeting of Mon 23 Nov 14:00 moved to Tue 24 Nov 14:00, "
        "GS Kimironko II. Reply YES 4821 or NO 4821."
    )


def test_a_cancellation_gives_the_reason_when_there_is_one(texts: SmsTexts) -> None:
    with_reason = MEETING | {"reason": "Exams week"}
    assert texts.render("cancelled", EN, with_reason, timezone=KIGALI) == (
        "CoP P6 Maths Kimironko: meeting 4821 on Tue 24 Nov 14:00 is cancelled: Exams week."
    )
    without = MEETING | {"reason": "  "}
    assert texts.render("cancelled", EN, without, timezone=KIGALI) == (
        "CoP P6 Maths Kimironko: meeting 4821 on Tue 24 Nov 14:00 is cancelled."
    )


def test_the_footer_tells_how_to_opt_out(texts: SmsTexts) -> None:
    plain = texts.render("reminder", SW, MEETING, timezone=KIGALI)
    first = texts.render("reminder", SW, MEETING, timezone=KIGALI, footer=True)
    assert first == plain + " Jibu ACHA kusitisha."


def test_which_meeting_lists_at_most_five_codes(texts: SmsTexts) -> None:
    codes = ["1111", "2222", "3333", "4444", "5555", "6666"]
    text = texts.render("which_meeting", EN, {"codes": codes}, timezone=KIGALI)
    assert text.endswith(": 1111, 2222, 3333, 4444, 5555.")


def test_counts_and_questions_are_shown_as_numbers(texts: SmsTexts) -> None:
    sent = texts.render("remind_sent", FR, {"code": "4821", "count": 23}, timezone=KIGALI)
    assert sent == "Réunion 4821 : rappel envoyé maintenant à 23 membre(s)."
    invite = texts.render(
        "survey_invite", EN, {"survey": "Term 1 check-in", "questions": 4}, timezone=KIGALI
    )
    assert invite == "Please answer 4 short questions about Term 1 check-in. Reply to start."


# --- times --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "zone", "shown"),
    [
        (EN, KIGALI, "Tue 24 Nov 14:00"),
        (EN, NAIROBI, "Tue 24 Nov 15:00"),
        (SW, NAIROBI, "Jnn 24 Nov 15:00"),
        (RW, KIGALI, "Kw2 24 Ugu 14:00"),
        (FR, KIGALI, "mar 24 nov 14h00"),
    ],
)
def test_times_are_shown_in_the_programme_time_zone(
    texts: SmsTexts, language: Language, zone: str, shown: str
) -> None:
    params = {"code": "4821", "starts_at": NOV_24_NOON_UTC}
    assert shown in texts.render("checkin_not_open", language, params, timezone=zone)


@pytest.mark.parametrize(
    ("language", "zone", "shown"),
    [(EN, KIGALI, "07:00"), (EN, NAIROBI, "08:00"), (RW, KIGALI, "07:00"), (FR, KIGALI, "07h00")],
)
def test_a_time_of_day_is_shown_alone_in_the_programme_time_zone(
    texts: SmsTexts, language: Language, zone: str, shown: str
) -> None:
    params = {"code": "4821", "count": 3, "send_time": "2026-11-25T05:00:00+00:00"}
    text = texts.render("remind_held", language, params, timezone=zone)
    assert shown in text and "Nov" not in text and "nov" not in text


def test_a_late_meeting_in_utc_is_the_next_day_in_nairobi(texts: SmsTexts) -> None:
    params = MEETING | {"starts_at": "2026-11-24T22:30:00Z"}
    assert "Wed 25 Nov 01:30" in texts.render("rsvp_yes", EN, params, timezone=NAIROBI)


def test_a_time_without_utc_offset_is_refused(texts: SmsTexts) -> None:
    params = MEETING | {"starts_at": "2026-11-24T12:00:00"}
    with pytest.raises(RenderError, match="starts_at has no UTC offset"):
        texts.render("reminder", EN, params, timezone=KIGALI)


# --- values -------------------------------------------------------------------


def test_names_outside_gsm7_are_brought_into_it_so_the_sms_stays_one_segment(
    texts: SmsTexts,
) -> None:
    params = MEETING | {"community": "Çyangugu Forêt", "venue": "École Sainte-Thérèse\n😀 Hall"}
    text = texts.render("reminder", FR, params, timezone=KIGALI)
    assert text.startswith("Çyangugu Foret : réunion mar 24 nov 14h00, École Sainte-Thérèse Hall.")
    assert measure(text).encoding is Encoding.gsm7
    assert measure(text).segments == 1


def test_a_long_name_is_cut_with_a_single_full_stop(texts: SmsTexts) -> None:
    params = MEETING | {"venue": "Groupe Scolaire Nyamirambo Mathematics Centre"}
    text = texts.render("reminder", EN, params, timezone=KIGALI)
    assert ", Groupe Scolaire Nyamirambo Ma. Reply YES" in text


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda p: {k: v for k, v in p.items() if k not in {"code", "venue"}},
         "reminder needs the values: code, venue"),
        (lambda p: p | {"community": None}, "community needs a value"),
        (lambda p: p | {"modality": "carrier_pigeon"}, "'carrier_pigeon' is not a modality"),
        (lambda p: p | {"starts_at": "next Tuesday"}, "starts_at is not an ISO-8601 time"),
    ],
)  # fmt: skip
def test_missing_or_bad_values_raise_a_clear_error(
    texts: SmsTexts, change: Callable[[dict[str, object]], dict[str, object]], problem: str
) -> None:
    with pytest.raises(RenderError, match=re.escape(problem)):
        texts.render("reminder", EN, change(dict(MEETING)), timezone=KIGALI)


def test_an_unknown_template_or_time_zone_raises(texts: SmsTexts) -> None:
    with pytest.raises(RenderError, match="no SMS template 'remindr'"):
        texts.render("remindr", EN, MEETING, timezone=KIGALI)
    with pytest.raises(RenderError, match="unknown time zone 'Africa/Atlantis'"):
        texts.render("reminder", EN, MEETING, timezone="Africa/Atlantis")


# --- every text fits ----------------------------------------------------------

# A 200-character name, as long as the database allows (cut to 200).
LONG = (
    "Groupe Scolaire Nyamirambo Mathematics and Science Teachers Community of Practice "
    "for Upper Primary, Nyarugenge District, Kigali City, Republic of Rwanda, East Africa "
)[:200].ljust(200, "x")


@cache
def longest_time(language: Language) -> str:
    """The UTC instant whose local date reads longest in this language (a day >= 10)."""
    texts = SmsTexts.load()
    candidates = [
        (datetime(2027, 1, 1, 21, 59, tzinfo=UTC) + timedelta(days=day)).isoformat()
        for day in range(365)
    ]
    return max(
        candidates,
        key=lambda at: len(
            texts.render(
                "checkin_not_open", language, {"code": "", "starts_at": at}, timezone=KIGALI
            )
        ),
    )


# The longest activity a meeting can carry: a 120-character title, and the longest
# page (domain: at most 9999) or link (at most 100 characters).
LONG_ACTIVITY = LONG[:120]
LONG_LINK = "https://toolkit.example.org/" + "x" * 72
ACTIVITY_WHERE: tuple[dict[str, object], ...] = (
    {"activity_page": 9999},
    {"activity_link": LONG_LINK},
    {},
)


def longest(template: str, language: Language, texts: SmsTexts, *, footer: bool = True) -> str:
    """The longest text a template can give: every variant, modality, value at its max."""
    at = longest_time(language)
    renders = []
    for modality in Modality:
        for optional in (LONG, ""):
            for where in ACTIVITY_WHERE:
                params: dict[str, object] = {
                    "community": LONG, "venue": optional, "reason": optional, "programme": LONG,
                    "survey": LONG, "modality": modality.value, "starts_at": at,
                    "old_starts_at": at, "send_time": at, "code": "99999",
                    "codes": ["99999"] * 9, "count": 9999, "questions": 99,
                    "activity": LONG_ACTIVITY, "name": LONG, "ussd": "*384*12345#",
                    "first_name": LONG, "who": LONG, "yes": 9999, "no": 9999, "waiting": 9999,
                    "present": 9999,
                    # Lists are fitted to the segment by their callers (sms.lists), and a
                    # person's own text is sent whole: the frame leaves it TEXT_ROOM.
                    "names": "Amina", "text": "x" * TEXT_ROOM, **where,
                }  # fmt: skip
                renders.append(
                    texts.render(template, language, params, timezone=KIGALI, footer=footer)
                )
    return max(renders, key=septets)


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("template", sorted(TEMPLATES | CONVERSATION))
def test_every_text_with_its_longest_values_and_the_footer_is_one_gsm7_segment(
    texts: SmsTexts, template: str, language: Language
) -> None:
    text = longest(template, language, texts)
    assert "{" not in text and "}" not in text
    size = measure(text)
    assert size.encoding is Encoding.gsm7, text
    if template in FOOTER_MAY_NEED_TWO_SEGMENTS:
        # Allowed to spill over with the footer (the reason is in the allow-list), no further.
        assert size.segments <= 2, text
    else:
        assert size.segments == 1, f"{size.units} septets: {text}"


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("template", sorted(TEMPLATES | CONVERSATION))
def test_every_text_with_its_longest_values_is_one_gsm7_segment_without_the_footer(
    texts: SmsTexts, template: str, language: Language
) -> None:
    size = measure(longest(template, language, texts, footer=False))
    assert (size.encoding, size.segments) == (Encoding.gsm7, 1), f"{size.units} septets"


def test_the_footer_allow_list_only_holds_what_does_not_fit(texts: SmsTexts) -> None:
    # An entry that fits after all (shorter wording) must leave the list.
    for template, reason in FOOTER_MAY_NEED_TWO_SEGMENTS.items():
        assert reason
        assert any(septets(longest(template, lang, texts)) > 160 for lang in Language)


# --- keywords in the texts ----------------------------------------------------

NOT_KEYWORDS = {"SMS"}
MENTIONS = {
    "reminder": {Keyword.yes, Keyword.no},
    "reminder_activity": {Keyword.yes, Keyword.no},
    "reminder_activity_no_venue": {Keyword.yes, Keyword.no},
    "moved": {Keyword.yes, Keyword.no},
    "rsvp_yes": {Keyword.here},
    "rsvp_no": {Keyword.yes},
    "stopped": {Keyword.start},
    "started": {Keyword.stop},
    "unknown": {Keyword.help},
    "help": {Keyword.yes, Keyword.no, Keyword.here, Keyword.stop, Keyword.remind, Keyword.cancel},
    "footer": {Keyword.stop},
    "msg_usage": {Keyword.msg},
    "who_usage": {Keyword.who},
    "forwarded": {Keyword.to},
    "to_ambiguous": {Keyword.to},
    "to_usage": {Keyword.to},
    "forward_nobody": {Keyword.help},
}


def _raw(language: Language) -> dict[str, str]:
    tree = tomllib.loads((FOLDER / f"{language.value}.toml").read_text(encoding="utf-8"))
    return {key: text for table in TEXT_SECTIONS for key, text in tree[table].items()}


@pytest.mark.parametrize("language", list(Language))
def test_the_reply_words_in_a_text_are_ones_copline_reads_in_that_language(
    language: Language,
) -> None:
    for key, text in _raw(language).items():
        words = set(re.findall(r"\b[A-ZÉ]{2,}\b", text)) - NOT_KEYWORDS
        mentioned = set()
        for word in words:
            command = parse(f"{word} 4821")
            assert command.keyword is not Keyword.unknown, f"{language} {key}: {word}"
            assert command.language in (language, None), f"{language} {key}: {word}"
            mentioned.add(command.keyword)
        assert MENTIONS.get(key, set()) <= mentioned, f"{language} {key}"


@pytest.mark.parametrize("language", sorted(set(Language) - {EN}))
def test_each_language_is_translated_not_english_copied_in(language: Language) -> None:
    # Every sentence is the language's own, none English copied in. A text with no word
    # of three letters is no sentence: an abbreviation such as French "p.{page}" may be
    # the same as in English.
    english = _raw(EN)
    same = sorted(
        key
        for key, text in _raw(language).items()
        if text == english[key] and re.search(r"[A-Za-z]{3,}", re.sub(r"\{\w+\}", "", text))
    )
    assert same == [], same


# --- a translator's mistakes stop start-up --------------------------------------


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda t: re.sub(r"^no_meeting = .*\n", "", t, flags=re.M), "sw: missing text.no_meeting"),
        (lambda t: t.replace("[text]\n", '[text]\nextra = "Habari"\n'),
         "sw: text.extra is not a known template"),
        (lambda t: t.replace("[activity]\n", '[activity]\nziada = "Habari"\n'), "sw: activity.ziada is not a known template"),
        (lambda t: re.sub(r"^prepare = .*\n", "", t, flags=re.M), "sw: missing activity.prepare"),
        (lambda t: t.replace("[activity]\n", '[activity]\nno_meeting = "Huna mikutano."\n'),
         "sw: activity.no_meeting is also in [text]"),
        (lambda t: t.replace("[conversation]\n", '[conversation]\nextra = "Habari"\n'), "sw: conversation.extra is not a known template"),
        (lambda t: re.sub(r"^who_more = .*\n", "", t, flags=re.M),
         "sw: missing conversation.who_more"),
        (lambda t: t.replace("{community}: mkutano {starts_at}, {venue}",
                             "{kikundi}: mkutano {starts_at}, {venue}"),
         "sw: text.reminder has an unknown placeholder {kikundi}"),
        (lambda t: t.replace("Jibu NDIYO {code} au HAPANA {code}.\"\nreminder_no",
                             "Jibu NDIYO au HAPANA.\"\nreminder_no"),
         "sw: text.reminder misses the placeholder {code}"),
        (lambda t: t.replace("Karibu!", "Karibu! ✓"), "characters outside GSM-7: '✓'"),
        (lambda t: t.replace("Huna mikutano ijayo.", "Huna {mikutano ijayo."),
         "sw: text.no_meeting is not a valid template"),
        (lambda t: t.replace("{code} umefungwa", "{code:>6} umefungwa"),
         "without a format or conversion"),
        (lambda t: t.replace('"Jtt", ', ""), "sw: date.weekdays must be a list of 7 names"),
        (lambda t: t.replace("{hour}:{minute}", "{hour}"), "date.format misses the placeholder {minute}"),
        (lambda t: re.sub(r"^phone = .*\n", "", t, flags=re.M), "sw: missing modality.phone"),
        (lambda t: t + "[oops\n", "cannot read the SMS texts"),
    ],
)  # fmt: skip
def test_a_broken_translation_stops_start_up_with_the_reason(
    tmp_path: Path, edit: Callable[[str], str], problem: str
) -> None:
    for source in FOLDER.glob("*.toml"):
        shutil.copy(source, tmp_path / source.name)
    path = tmp_path / "sw.toml"
    broken = edit(path.read_text(encoding="utf-8"))
    assert broken != path.read_text(encoding="utf-8"), "the edit must change the file"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(CatalogueError, match=re.escape(problem)):
        SmsTexts.load(tmp_path)


def test_a_missing_language_file_stops_start_up(tmp_path: Path) -> None:
    for source in FOLDER.glob("*.toml"):
        if source.name != "rw.toml":
            shutil.copy(source, tmp_path / source.name)
    with pytest.raises(CatalogueError, match=r"cannot read the SMS texts .*rw\.toml"):
        SmsTexts.load(tmp_path)
