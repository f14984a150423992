"""A language chosen on the USSD menu is the person's own: a roster import keeps it.
The menu offers the programme's languages (Chichewa in Malawi), and names reach the
screen in GSM-7 ("Ŵiŵa" is "Wiwa")."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.communities import add_member
from service.models import Person
from service.models.enums import Channel, Country, Language, MembershipRole
from service.roster import ImportKind, import_csv, read_csv
from tests import factories as f
from ussd_menus.phone import Phone

TOKEN = "dev-callback-token"


def key_of(screen: str, label: str) -> str:
    """The number a menu gives the line `label`."""
    return next(line.split(" ")[0] for line in screen.split("\n") if line.endswith(f" {label}"))


def offered(screen: str) -> list[str]:
    """The numbered choices of a menu, without their numbers or the way back."""
    lines = [line.split(" ", 1) for line in screen.split("\n")[1:]]
    return [label for key, label in lines if key.isdigit() and key != "0"]


async def malawi(session: AsyncSession) -> f.World:
    return await f.world(session, slug="mw-cops", country=Country.MW, timezone="Africa/Blantyre")


def dialler(client: httpx.AsyncClient, w: f.World, number: str | None) -> Phone:
    assert number is not None
    return Phone(client, number=number, service_code=w.programme.service_code, token=TOKEN)


async def test_a_teacher_who_picks_english_by_ussd_keeps_it_when_the_roster_is_imported_again(
    client: httpx.AsyncClient, session: AsyncSession, tmp_path: Path
) -> None:
    w = await f.world(session)
    member = w.members[0]
    assert member.phone is not None and member.language is Language.sw
    roster = tmp_path / "people.csv"
    roster.write_text(
        f"name,phone,language,school\n{member.name},{member.phone},sw,{w.school.code}\n",
        encoding="utf-8",
    )
    phone = Phone(client, number=member.phone, service_code=w.programme.service_code, token=TOKEN)
    await phone.dial()
    menu = await phone.press("5")
    english = next(line.split(" ")[0] for line in menu.split("\n") if line.endswith("English"))
    assert await phone.press(english) == "Language saved: English."
    session.expunge_all()  # forget what this session knew: the app changed the person
    report = await import_csv(
        ImportKind.people,
        read_csv(roster, ImportKind.people),
        w.programme,
        session=session,
        actor=f.OPERATOR,
    )
    assert report.applied, report.errors
    session.expunge_all()
    stored = (await session.exec(select(Person).where(Person.id == member.id))).one()
    assert stored.language is Language.en
    assert stored.language_chosen_channel is Channel.ussd and stored.language_chosen_at is not None
    assert report.kept_own_language == 1


async def test_a_malawi_teacher_is_offered_chichewa_and_english_and_keeps_chichewa(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await malawi(session)
    assert w.programme.languages == ["ny", "en"]
    teacher = await f.person(session, w.programme, school_id=w.school.id, language=Language.en)
    await session.commit()
    phone = dialler(client, w, teacher.phone)

    home = await phone.dial()
    assert home.startswith("Hi ")
    menu = await phone.press(key_of(home, "Language & channel"))
    # The programme's languages, not all five; then how messages come.
    assert offered(menu) == ["Chichewa", "English", "SMS or WhatsApp"]
    assert await phone.press(key_of(menu, "Chichewa")) == "Chiyankhulo chasungidwa: Chichewa."
    assert phone.ended

    session.expunge_all()
    stored = (await session.exec(select(Person).where(Person.id == teacher.id))).one()
    assert stored.language is Language.ny
    assert stored.language_chosen_channel is Channel.ussd
    again = await phone.dial()
    assert again.startswith("Moni ") and again.endswith(" Chiyankhulo ndi njira")


async def test_a_name_with_w_circumflex_reaches_the_screen_as_w(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await malawi(session)
    assert w.community.id is not None
    wiwa = await f.person(session, w.programme, name="Ŵiŵa Chiŵalo", school_id=w.school.id)
    assert wiwa.id is not None and wiwa.language is Language.ny
    await add_member(
        w.pid, w.community.id, wiwa.id, role=MembershipRole.facilitator, session=session,
        actor=f.OPERATOR,
    )  # fmt: skip
    await session.commit()
    phone = dialler(client, w, wiwa.phone)

    home = await phone.dial()
    assert home.split("\n")[0] == "Moni Wiwa"
    # Her name as her members read it, among the community's facilitators.
    member = dialler(client, w, w.members[0].phone)
    communities = await member.press(key_of(await member.dial(), "Magulu anga"))
    community = await member.press(key_of(communities, w.community.name))
    assert "Wotsogolera: " in community and "Wiwa Chiwalo" in community
