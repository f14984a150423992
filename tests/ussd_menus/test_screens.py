"""Every screen, in every language, with the longest data: CON/END, <= 160 GSM-7, no placeholders.

These run the pure replay with no database and no HTTP.
"""

from __future__ import annotations

import re
from collections import deque

import pytest

from service.gsm7 import is_gsm7, septets
from service.models.enums import Language
from tests.ussd_menus.callers import facilitator, head_teacher, invitee, stranger, teacher
from ussd_menus.catalog import default_catalog
from ussd_menus.context import Caller
from ussd_menus.engine import render, replay
from ussd_menus.screens import SCREENS, Texts

KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "98", "0", "00", "x"]


def reply(caller: Caller, inputs: list[str]) -> tuple[str, str]:
    kind, text, _, _ = answer(caller, inputs)
    return kind, text


def answer(caller: Caller, inputs: list[str]) -> tuple[str, str, list[str], str]:
    """The reply to these inputs, the screens the replay went through and where it is
    (the screen with its state: the pick list for cancelling is not the one for moving)."""
    t = Texts(default_catalog(), caller.language)
    r = replay(caller, inputs, t)
    if r.finish is not None:
        return "END", r.finish.message(t), r.visited, repr(r.stack[-1])
    return "CON", render(caller, r, t), r.visited, repr(r.stack[-1])


def typed(caller: Caller) -> list[str]:
    """What a caller types at prompts: a real meeting code, a join code, a name, rubbish;
    a facilitator also a date and a time ahead, a phone number and a long message."""
    return [
        caller.meetings[0].code if caller.meetings else "4099",
        "123456",
        "Marie Claire",
        "99999",
        *(
            [
                "0112",
                "1430",
                "0788123456",
                "Bring the P5 fractions workbook and the learners' exercise books to the meeting",
            ]
            if caller.facilitates
            else []
        ),
    ]


def every_screen(
    caller: Caller, depth: int = 7, reached: set[str] | None = None
) -> dict[tuple[str, ...], tuple[str, str]]:
    """Breadth first from home, each screen explored once per state and text it shows (a
    pick list for cancelling and one for moving show the same text: both are explored)."""
    seen: dict[tuple[str, ...], tuple[str, str]] = {}
    queue: deque[tuple[str, ...]] = deque([()])
    shown: set[tuple[str, str]] = set()
    while queue:
        path = queue.popleft()
        kind, text, visited, where = answer(caller, list(path))
        seen[path] = (kind, text)
        if reached is not None:
            reached.update(visited)
        if kind == "END" or len(path) >= depth or (where, text) in shown:
            continue
        shown.add((where, text))
        for key in KEYS + typed(caller):
            queue.append((*path, key))
    return seen


WALKS = (  # who, how deep, how many different screens at least
    (teacher, 7, 20), (facilitator, 8, 40), (stranger, 7, 5), (head_teacher, 7, 40),
    (invitee, 7, 4),
)  # fmt: skip


@pytest.mark.parametrize("language", list(Language))
def test_every_screen_is_reached_and_fits_one_gsm7_screen(language: Language) -> None:
    reached: set[str] = set()
    for make, depth, least in WALKS:
        screens = every_screen(make(language), depth, reached)
        assert len({text for _, text in screens.values()}) > least, make.__name__
        for path, (kind, text) in screens.items():
            assert kind in ("CON", "END")
            assert is_gsm7(text), (path, text)
            assert septets(text) <= 160, (path, septets(text), text)
            assert "{" not in text and "}" not in text, (path, text)
    assert reached == set(SCREENS)


def test_long_lists_page_with_98_and_every_meeting_is_reachable() -> None:
    caller = teacher(Language.en, meetings=12)
    seen_codes = set()
    inputs = ["1"]
    for _ in range(20):
        _, text = reply(caller, inputs)
        lines = text.split("\n")
        picks = [
            line.split(" ", 1)[0]
            for line in lines
            if line[:1].isdigit() and not line.startswith(("98", "0 "))
        ]
        for pick in picks:
            _, detail = reply(caller, [*inputs, pick])
            seen_codes.add(next(line for line in detail.split("\n") if line.startswith("Code ")))
        if "98 More" not in lines:
            break
        inputs.append("98")
    assert len(seen_codes) == len(caller.upcoming())


def test_invalid_input_reshows_the_screen_with_a_short_reason() -> None:
    caller = teacher(Language.sw)
    kind, text = reply(caller, ["7"])
    assert kind == "CON" and text.startswith("Chaguo si sahihi.\nHabari Marie")
    kind, text = reply(caller, ["2", "0000"])
    assert text.startswith("Msimbo haupatikani.\nWeka msimbo wa mkutano:")


def test_back_and_home_navigate_without_side_effects() -> None:
    caller = teacher(Language.fr)
    assert reply(caller, ["1", "1", "0", "0"]) == reply(caller, [])
    assert reply(caller, ["4", "1", "00"]) == reply(caller, [])
    assert reply(caller, ["1", "1", "1", "1"])[0] == "END"


def test_an_unknown_caller_sees_nothing_of_others() -> None:
    caller = stranger(Language.en)
    texts = {text for _, text in every_screen(caller).values()}
    assert not any("Uwimana" in text or "Code 40" in text for text in texts)


def test_a_facilitator_sees_their_menu_and_a_teacher_does_not() -> None:
    assert "6 Facilitator menu" in reply(facilitator(), [])[1]
    assert "6 " not in reply(teacher(), [])[1]
    assert reply(teacher(), ["6"])[1].startswith("Invalid choice.")


def test_marking_pages_through_every_member_and_shows_who_has_no_phone() -> None:
    caller = facilitator()
    inputs = ["6", "2", "1"]  # facilitator menu, mark attendance, the latest meeting
    names = []
    for _ in range(30):
        _, text = reply(caller, inputs)
        names += [line for line in text.split("\n") if re.match(r"^\d+ [PA-] ", line)]
        if "98 More" not in text:
            break
        inputs.append("98")
    assert len(names) == 24
    assert sum("(no phone)" in n for n in names) == 5


def test_moving_needs_a_date_and_time_ahead() -> None:
    caller = facilitator()
    kind, text = reply(caller, ["6", "4", "1", "3102"])  # 31 Feb
    assert text.startswith("Not a date ahead.")
    kind, text = reply(caller, ["6", "4", "1", "2211", "0800"])  # today, but earlier than now
    assert text.startswith("Not a time ahead.")
    kind, text = reply(caller, ["6", "4", "1", "2511", "1430"])
    assert kind == "CON" and "Wed 25 Nov 14:30" in text


@pytest.mark.parametrize("typed", ["\u00b2", "\u0661", "\u0663\u0664", "\uff11"])
def test_digits_from_other_scripts_are_an_invalid_choice_not_a_crash(typed: str) -> None:
    kind, text = reply(teacher(Language.en), [typed])
    assert kind == "CON" and text.startswith("Invalid choice.")
