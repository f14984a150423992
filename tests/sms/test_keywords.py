"""Inbound SMS: the keyword, the meeting code and the language a person wrote in."""

from __future__ import annotations

from collections import Counter

import pytest

from service.models.enums import Language
from sms.keywords import (
    FACILITATOR_WORDS,
    TAKES_NO_CODE,
    VOCABULARY,
    Command,
    Keyword,
    build_index,
    by_language,
    normalise,
    parse,
)

EN, SW, RW, FR = Language.en, Language.sw, Language.rw, Language.fr

# One word per keyword and language, as a person would type it.
WORDS = [
    ("yes", Keyword.yes, EN),
    ("Y", Keyword.yes, EN),
    ("Ndiyo", Keyword.yes, SW),
    ("ndio", Keyword.yes, SW),
    ("Yego", Keyword.yes, RW),
    ("oui", Keyword.yes, FR),
    ("No", Keyword.no, EN),
    ("n", Keyword.no, EN),
    ("HAPANA", Keyword.no, SW),
    ("oya", Keyword.no, RW),
    ("Non", Keyword.no, FR),
    ("here", Keyword.here, EN),
    ("Nipo", Keyword.here, SW),
    ("nipo hapa", Keyword.here, SW),
    ("Ndahari", Keyword.here, RW),
    ("ndi hano", Keyword.here, RW),
    ("ici", Keyword.here, FR),
    ("PRÉSENT", Keyword.here, None),
    ("present", Keyword.here, None),
    ("STOP", Keyword.stop, None),
    ("unsubscribe", Keyword.stop, EN),
    ("acha", Keyword.stop, SW),
    ("Sitisha", Keyword.stop, SW),
    ("hagarika", Keyword.stop, RW),
    ("Arrêt", Keyword.stop, FR),
    ("ARRETE", Keyword.stop, FR),
    ("arrêter", Keyword.stop, FR),
    ("Start", Keyword.start, EN),
    ("anza", Keyword.start, SW),
    ("TANGIRA", Keyword.start, RW),
    ("commencer", Keyword.start, FR),
    ("Début", Keyword.start, FR),
    ("help", Keyword.help, EN),
    ("Msaada", Keyword.help, SW),
    ("ubufasha", Keyword.help, RW),
    ("AIDE", Keyword.help, FR),
    ("remind", Keyword.remind, EN),
    ("kumbusha", Keyword.remind, SW),
    ("Ibutsa", Keyword.remind, RW),
    ("rappel", Keyword.remind, FR),
    ("Rappeler", Keyword.remind, FR),
    ("CANCEL", Keyword.cancel, EN),
    ("ghairi", Keyword.cancel, SW),
    ("ahirisha", Keyword.cancel, SW),
    ("subika", Keyword.cancel, RW),
    ("annuler", Keyword.cancel, FR),
]

# How the code may follow the word: "{w}" is the word, the code is 4821.
WITH_CODE = ["{w} 4821", " {w}4821 ", "{w}, 4821", "{w} #4821", "{w}:4821", "{w}  4821 thanks"]
WITHOUT_CODE = ["{w}", " {w} ", "{w}.", "{w}!", "{w} please"]


@pytest.mark.parametrize(("word", "keyword", "language"), WORDS)
@pytest.mark.parametrize("shape", WITH_CODE)
def test_every_keyword_is_read_with_its_code(
    word: str, keyword: Keyword, language: Language | None, shape: str
) -> None:
    assert parse(shape.format(w=word)) == Command(keyword, "4821", language)


@pytest.mark.parametrize(("word", "keyword", "language"), WORDS)
@pytest.mark.parametrize("shape", WITHOUT_CODE)
def test_every_keyword_is_read_without_a_code(
    word: str, keyword: Keyword, language: Language | None, shape: str
) -> None:
    assert parse(shape.format(w=word)) == Command(keyword, None, language)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes 4821", Command(Keyword.yes, "4821", EN)),
        (" YES4821 ", Command(Keyword.yes, "4821", EN)),
        ("Yes, 4821", Command(Keyword.yes, "4821", EN)),
        ("yes #4821", Command(Keyword.yes, "4821", EN)),
        ("ndiyo 4821", Command(Keyword.yes, "4821", SW)),
        ("Yego 4821", Command(Keyword.yes, "4821", RW)),
        ("oui 4821", Command(Keyword.yes, "4821", FR)),
        ("OUI.", Command(Keyword.yes, None, FR)),
        ("Nipo hapa 4821", Command(Keyword.here, "4821", SW)),
        ("Ndi hano, 4821", Command(Keyword.here, "4821", RW)),
        ("yes\n4821", Command(Keyword.yes, "4821", EN)),
        ("oui 48210", Command(Keyword.yes, "48210", FR)),  # five-digit codes exist
    ],
)
def test_the_replies_people_send(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A mistyped code is still a code, so the reply can say "no meeting 482".
        ("yes 482", Command(Keyword.yes, "482", EN)),
        ("yes 482100", Command(Keyword.yes, "482100", EN)),
        # Too short or too long to be a code: the person is asked which meeting.
        ("yes 48", Command(Keyword.yes, None, EN)),
        ("no 2 kids are sick", Command(Keyword.no, None, EN)),
        ("yes 4821000", Command(Keyword.yes, None, EN)),
        # The code must follow the keyword: later digits are not a code.
        ("yes I come at 1400", Command(Keyword.yes, None, EN)),
    ],
)
def test_only_three_to_six_digits_right_after_the_keyword_are_a_code(
    text: str, expected: Command
) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4821", Command(Keyword.unknown, "4821", None)),
        (" 4821 ", Command(Keyword.unknown, "4821", None)),
        ("#4821", Command(Keyword.unknown, "4821", None)),
        ("3", Command(Keyword.unknown, None, None)),
        ("", Command(Keyword.unknown, None, None)),
        ("   ", Command(Keyword.unknown, None, None)),
        ("?!", Command(Keyword.unknown, None, None)),
        ("hello", Command(Keyword.unknown, None, None)),
        ("hello 4821", Command(Keyword.unknown, None, None)),
        # A keyword glued to other letters is another word.
        ("yesss 4821", Command(Keyword.unknown, None, None)),
        ("nope", Command(Keyword.unknown, None, None)),
        ("stopping", Command(Keyword.unknown, None, None)),
        # "ndi" alone is only half of "ndi hano".
        ("ndi 4821", Command(Keyword.unknown, None, None)),
        # The keyword must come first.
        ("I say yes 4821", Command(Keyword.unknown, None, None)),
    ],
)
def test_anything_else_is_unknown(text: str, expected: Command) -> None:
    assert parse(text) == expected


def test_no_word_means_two_keywords() -> None:
    words = Counter(tuple(normalise(word).split()) for _, _, words in VOCABULARY for word in words)
    assert [word for word, seen in words.items() if seen > 1] == []


def test_a_table_where_one_word_means_two_keywords_is_refused() -> None:
    clash = (
        (Keyword.stop, Language.rw, ("hagarika",)),
        (Keyword.cancel, Language.rw, ("Hagarika",)),
    )
    with pytest.raises(ValueError, match="'Hagarika' would mean both stop and cancel"):
        build_index(clash)


def test_every_keyword_has_a_word_in_every_language() -> None:
    for keyword in Keyword:
        if keyword is Keyword.unknown:
            continue
        for language in Language:
            assert any(k is keyword and lang in (language, None) for k, lang, _ in VOCABULARY), (
                f"{keyword} has no word in {language}"
            )


def test_every_word_in_the_table_is_understood() -> None:
    for keyword, language, words in VOCABULARY:
        code = None if keyword in TAKES_NO_CODE else "4821"
        for word in words:
            assert parse(f"{word} 4821") == Command(keyword, code, language)


# --- a facilitator's commands ---------------------------------------------------


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("keyword", [Keyword.msg, Keyword.who])
def test_msg_and_who_take_a_code_and_keep_the_text_as_typed(
    language: Language, keyword: Keyword
) -> None:
    word = FACILITATOR_WORDS[language][keyword][0].upper()
    command = parse(f"{word} 4821: Bring the Grade 4 books, please!")
    assert (command.keyword, command.code) == (keyword, "4821")
    assert command.language in (language, None)
    assert command.rest == "Bring the Grade 4 books, please!"


@pytest.mark.parametrize("language", list(Language))
def test_to_takes_a_name_or_a_number_never_a_code(language: Language) -> None:
    word = FACILITATOR_WORDS[language][Keyword.to][0]
    by_number = parse(f"{word} +254 712 345 678 Thank you")
    assert (by_number.keyword, by_number.code) == (Keyword.to, None)
    assert by_number.rest == "+254 712 345 678 Thank you"
    by_name = parse(f"{word.title()} Josée Uwase: see you Friday")
    assert (by_name.keyword, by_name.rest) == (Keyword.to, "Josée Uwase: see you Friday")


def test_a_word_two_languages_share_for_one_command_tells_no_language() -> None:
    rows = by_language(
        {EN: {Keyword.msg: ("msg",)}, FR: {Keyword.msg: ("msg",)}, SW: {Keyword.msg: ("ujumbe",)}}
    )
    assert set(rows) == {(Keyword.msg, None, ("msg",)), (Keyword.msg, SW, ("ujumbe",))}
    assert parse("Msg 4821 hi").language is None


def test_free_text_keeps_all_of_its_words() -> None:
    assert parse("  Hello, when is the meeting?  ").rest == "Hello, when is the meeting?"
