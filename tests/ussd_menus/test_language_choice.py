"""A language chosen on the USSD menu is the person's own: a roster import keeps it."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Person
from service.models.enums import Channel, Language
from service.roster import ImportKind, import_csv, read_csv
from tests import factories as f
from ussd_menus.phone import Phone

TOKEN = "dev-callback-token"


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
