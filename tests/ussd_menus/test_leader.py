"""A head teacher's phone: their school's week, the teachers at risk and the number to
call, whole only for their own school's teachers; in every language."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Person
from service.models.enums import Language
from tests import factories as f
from tests.leaders import SchoolWorld, school_world
from ussd_menus.catalog import Catalog
from ussd_menus.phone import Phone

TOKEN = "dev-callback-token"
CATALOG = Catalog.load()


def phone(client: httpx.AsyncClient, w: SchoolWorld, who: Person) -> Phone:
    assert who.phone is not None
    return Phone(client, number=who.phone, service_code=w.programme.service_code, token=TOKEN)


async def walk(p: Phone, *keys: str) -> str:
    screen = await p.dial()
    for key in keys:
        screen = await p.press(key)
    return screen


def choice(screen: str, text: str) -> str:
    """The number in front of the line that shows `text`."""
    line = next(line for line in screen.split("\n") if text in line)
    return line.split(" ")[0]


@pytest.mark.parametrize("language", list(Language))
async def test_a_head_teacher_sees_the_week_and_calls_their_teacher_at_risk(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w = await school_world(session, language, f.now())

    def t(key: str, **values: object) -> str:
        return CATALOG.text(language, key, **values)

    p = phone(client, w, w.deputy)
    home = await p.dial()
    school = await p.press(choice(home, t("leader.menu")))
    assert w.school.name in school
    assert t("leader.last_week", came=1, of=3, rate=33) in school
    assert t("leader.meetings", count=1) in school and t("leader.at_risk", count=2) in school

    meetings = await p.press("1")
    assert w.community.name in meetings
    detail = await p.press("1")
    assert t("leader.rsvp", yes=2, no=1) in detail

    await p.press("0")
    await p.press("0")
    at_risk = await p.press("2")
    assert w.missed.name in at_risk and w.visitor.name in at_risk
    assert w.came.name not in at_risk
    own = await p.press(choice(at_risk, w.missed.name))
    assert t("leader.call", phone=w.missed.phone) in own
    await p.press("0")
    other = await p.press(choice(at_risk, w.visitor.name))
    assert t("leader.other_school") in other
    assert w.visitor.phone is not None and w.visitor.phone not in other


async def test_the_neighbour_schools_head_calls_only_their_own_teacher(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await school_world(session, Language.en, f.now())
    p = phone(client, w, w.neighbour_head)
    at_risk = await walk(p, "6", "2")
    own = await p.press(choice(at_risk, w.visitor.name))
    assert f"Call {w.visitor.phone}" in own
    await p.press("0")
    theirs = await p.press(choice(at_risk, w.missed.name))
    assert w.missed.phone is not None and w.missed.phone not in theirs


async def test_a_teacher_has_no_school_menu_and_a_school_without_cop_says_so(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await school_world(session, Language.en, f.now())
    home = await phone(client, w, w.came).dial()
    assert "My school" not in home
    lonely = await walk(phone(client, w, w.lonely_head), "6")
    assert lonely.startswith("No CoP at your school yet.")
