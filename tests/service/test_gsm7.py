"""GSM-7: what a letter outside the alphabet becomes on a USSD screen or in an SMS."""

from __future__ import annotations

import pytest

from service.gsm7 import BASIC, is_gsm7, to_gsm7, truncate


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        # Chichewa's w-circumflex and Esperanto-style c-circumflex lose their accent.
        ("Ŵiŵa Chiŵalo", "Wiwa Chiwalo"),
        ("ĉ Ĉ", "c C"),
        # Accented letters GSM-7 lacks lose their accent...
        ("ê â î ô û ë ï á í ó ú", "e a i o u e i a i o u"),
        ("È Ê À Â Î Ô Û Ì Ò Ù", "E E A A I O U I O U"),
        ("ç Łódź", "c Lodz"),
        # ...those it has stay as they are.
        (
            "é É è à ù ì ò ü Ü ñ Ñ Ä ä Ö ö Å å Ø ø Æ æ ß Ç",
            "é É è à ù ì ò ü Ü ñ Ñ Ä ä Ö ö Å å Ø ø Æ æ ß Ç",
        ),
        # An accent typed as a separate mark joins its letter first.
        ("e\u0301cole, w\u0302", "école, w"),
        # Typographic punctuation and spaces become their plain forms.
        ("\u2018a\u2019 \u201ab\u2019", "'a' 'b'"),
        ("\u201cc\u201d \u201ed\u201c \u00abe\u00bb", '"c" "d" "e"'),
        ("9\u201310 \u2014 yes", "9-10 - yes"),
        ("wait\u2026", "wait..."),
        ("Mr\u00a0Banda\u202fand\tco", "Mr Banda and co"),
        # Older Chichewa spelling's ng' as one letter.
        ("\u014bombe \u014aoma", "ng'ombe Ng'oma"),
        # Ligatures and compatibility forms spell out.
        ("\ufb01le \u0153uvre", "file oeuvre"),
        # What has no stand-in is dropped, as before.
        ("Hi 😀!", "Hi !"),
        ("Moni 你好", "Moni "),
        ("½", ""),
        # The extension set is GSM-7 too.
        ("a [b] {c} €5 ~ ^ | \\", "a [b] {c} €5 ~ ^ | \\"),
        ("", ""),
    ],
)
def test_letters_outside_gsm7_are_transliterated_not_deleted(typed: str, shown: str) -> None:
    assert to_gsm7(typed) == shown
    assert is_gsm7(to_gsm7(typed))


def test_every_letter_of_the_basic_set_is_kept() -> None:
    letters = "".join(sorted(BASIC))
    assert to_gsm7(letters) == letters


def test_a_name_is_cut_after_it_is_transliterated() -> None:
    # Cutting counts the septets that are sent: "Ŵ" is one letter "W", not dropped.
    assert truncate("Ŵiŵa Chiŵalo Mwale", 13) == "Wiwa Chiwalo."
