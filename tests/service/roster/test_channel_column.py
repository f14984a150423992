"""The people file's `channel` column: sms or whatsapp, and WhatsApp a person chose is kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.outcome import Outcome
from service.domain.reach import set_reach
from service.models import Person, Programme
from service.models.enums import Channel, Reach
from service.roster import ImportKind
from service.roster.export import people_csv
from tests import factories as f
from tests.service.roster.test_importer import kenya, run_import, write

__all__ = ["kenya"]  # the fixture, shared with the importer's tests

HEADER = "name,phone,school,channel\n"


async def _reach(session: AsyncSession) -> dict[str, Reach]:
    session.expunge_all()
    return {p.name: p.reach for p in (await session.exec(select(Person))).all()}


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("whatsapp", Reach.whatsapp), ("WhatsApp", Reach.whatsapp), ("wa", Reach.whatsapp),
     ("SMS", Reach.sms), ("", Reach.sms)],
)  # fmt: skip
async def test_the_channel_column_sets_how_a_new_person_is_reached(
    session: AsyncSession, kenya: Programme, tmp_path: Path, cell: str, expected: Reach
) -> None:
    text = HEADER + f"Achieng Otieno,0712345678,KSM-01,{cell}\n"
    report = await run_import(session, kenya, ImportKind.people, write(tmp_path, "p.csv", text))
    assert report.applied, report.errors
    assert await _reach(session) == {"Achieng Otieno": expected}
    person = (await session.exec(select(Person))).one()
    assert person.whatsapp_opt_in_at is None  # a roster is not the person's opt-in


async def test_an_unknown_channel_or_whatsapp_without_a_phone_is_a_bad_row(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    text = HEADER + "Achieng Otieno,0712345678,KSM-01,telegram\nGrace Nafula,,KSM-02,whatsapp\n"
    report = await run_import(session, kenya, ImportKind.people, write(tmp_path, "p.csv", text))
    assert not report.applied
    reasons = {e.line: e.reason for e in report.errors}
    assert "unknown channel 'telegram'" in reasons[2]
    assert "no phone" in reasons[3]
    assert await _reach(session) == {}


async def test_an_empty_channel_keeps_what_staff_set_and_a_given_one_changes_it(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    first = HEADER + "Achieng Otieno,0712345678,KSM-01,whatsapp\n"
    await run_import(session, kenya, ImportKind.people, write(tmp_path, "a.csv", first))
    empty = HEADER + "Achieng Otieno,0712345678,KSM-01,\n"
    report = await run_import(session, kenya, ImportKind.people, write(tmp_path, "b.csv", empty))
    assert report.outcomes[Outcome.unchanged] == 1
    assert await _reach(session) == {"Achieng Otieno": Reach.whatsapp}
    back = HEADER + "Achieng Otieno,0712345678,KSM-01,sms\n"
    report = await run_import(session, kenya, ImportKind.people, write(tmp_path, "c.csv", back))
    assert report.outcomes[Outcome.updated] == 1 and report.kept_own_reach == 0
    assert await _reach(session) == {"Achieng Otieno": Reach.sms}


async def test_whatsapp_the_person_chose_themselves_survives_a_reimport_and_is_counted(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    text = HEADER + "Achieng Otieno,0712345678,KSM-01,sms\nBrian Wafula,0722000111,KSM-01,sms\n"
    path = write(tmp_path, "p.csv", text)
    await run_import(session, kenya, ImportKind.people, path)
    achieng = (await session.exec(select(Person).where(Person.name == "Achieng Otieno"))).one()
    assert achieng.id is not None
    await set_reach(
        kenya, achieng.id, Reach.whatsapp, session=session,
        actor=Actor.person(achieng.id, Channel.ussd), now=f.now(), opt_in=True,
    )  # fmt: skip
    await session.commit()
    report = await run_import(session, kenya, ImportKind.people, path)
    assert report.kept_own_reach == 1 and report.outcomes[Outcome.unchanged] == 2
    assert await _reach(session) == {"Achieng Otieno": Reach.whatsapp, "Brian Wafula": Reach.sms}


async def test_the_exported_roster_carries_each_persons_channel(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    text = HEADER + "Achieng Otieno,0712345678,KSM-01,wa\nBrian Wafula,0722000111,KSM-01,\n"
    await run_import(session, kenya, ImportKind.people, write(tmp_path, "p.csv", text))
    exported = await people_csv(
        session, Person.programme_id == kenya.id, community_ids=None, pii=True
    )
    lines = exported.lstrip("\ufeff").splitlines()
    at = lines[0].split(",").index("channel")
    assert {line.split(",")[0]: line.split(",")[at] for line in lines[1:]} == {
        "Achieng Otieno": "whatsapp",
        "Brian Wafula": "sms",
    }
