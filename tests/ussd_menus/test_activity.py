"""A teacher's meeting screen shows the meeting's toolkit activity, within 160 characters."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionFactory
from service.domain.meetings import MeetingEdit, update_meeting
from service.gsm7 import septets, to_gsm7
from service.models.enums import Language
from tests import factories as f
from tests.ussd_menus.callers import LONG_ACTIVITY, LONG_LINK, meeting, teacher
from ussd_menus.catalog import default_catalog
from ussd_menus.context import Caller, MeetingView
from ussd_menus.engine import render, replay
from ussd_menus.loader import load_caller, load_programme, reading
from ussd_menus.screens import Texts

LANGUAGES = list(Language)
OPEN_FIRST_MEETING = ["1", "1"]  # home: upcoming meetings; the first one


def screen(caller: Caller, view: MeetingView) -> str:
    """The meeting screen of a caller whose only meeting is `view`."""
    caller = replace(caller, meetings_=(view,))
    t = Texts(default_catalog(), caller.language)
    result = replay(caller, OPEN_FIRST_MEETING, t)
    assert result.finish is None
    return render(caller, result, t)


def prefix(language: Language, key: str, **params: object) -> str:
    """The activity line's words before the title, in the caller's language."""
    return to_gsm7(Texts(default_catalog(), language)(key, title="", **params))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_meeting_screen_shows_a_long_activity_cut_to_fit_with_its_page(
    language: Language,
) -> None:
    view = replace(meeting(1), activity=LONG_ACTIVITY, activity_page=9999, activity_link=None)
    text = screen(teacher(language), view)
    assert septets(text) <= 160, text
    line = next(
        x
        for x in text.split("\n")
        if x.startswith(prefix(language, "activity.with_page", page=9999))
    )
    title = line.removeprefix(prefix(language, "activity.with_page", page=9999))
    # The title is shortened (with a full stop), never to less than a few words.
    assert title.endswith(".") and LONG_ACTIVITY.startswith(title[:-1]) and len(title) >= 12


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_short_activity_and_its_link_are_shown_whole_when_they_fit(language: Language) -> None:
    view = replace(
        meeting(1),
        community="P6 Maths",
        venue="Staff room",
        activity="Fractions",
        activity_page=None,
        activity_link="https://cop.rw/a12",
    )
    text = screen(teacher(language), view)
    lines = text.split("\n")
    assert prefix(language, "activity.title") + "Fractions" in lines
    assert "https://cop.rw/a12" in lines and septets(text) <= 160


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_link_that_does_not_fit_is_left_out_rather_than_cut(language: Language) -> None:
    view = replace(meeting(1), activity=LONG_ACTIVITY, activity_page=None, activity_link=LONG_LINK)
    text = screen(teacher(language), view)
    assert "https://" not in text and septets(text) <= 160
    assert prefix(language, "activity.title") + LONG_ACTIVITY[:10] in text


def test_a_meeting_without_an_activity_has_no_activity_line() -> None:
    view = replace(meeting(1), activity=None, activity_page=None, activity_link=None)
    for language in LANGUAGES:
        text = screen(teacher(language), view)
        assert prefix(language, "activity.title").strip(" :") not in text


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_activity_set_on_a_meeting_reaches_the_teacher_screen(
    engine: AsyncEngine, sessions: SessionFactory, session: AsyncSession, language: Language
) -> None:
    w = await f.world(session)
    assert w.meeting.id is not None
    edit = MeetingEdit(activity="Paper strips", activity_page=12)
    await update_meeting(w.programme, w.meeting.id, edit, session=session, actor=f.OPERATOR)
    await f.meeting(session, w.programme, w.community, starts_in=timedelta(days=9))
    await session.commit()
    found = await load_programme(session, w.programme.service_code)
    assert found is not None
    async with reading(engine, sessions) as reader:
        caller = await load_caller(reader, found[0], w.members[0].phone or "", f.now())
    view = caller.meetings[0]
    assert (view.activity, view.activity_page, view.activity_link) == (
        "Paper strips",
        12,
        None,
    )
    assert caller.meetings[1].activity is None
    text = screen(replace(caller, language=language), view)
    expected = Texts(default_catalog(), language)(
        "activity.with_page", page=12, title="Paper strips"
    )
    assert to_gsm7(expected) in text.split("\n")
