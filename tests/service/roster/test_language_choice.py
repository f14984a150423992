"""A person's own choice of language wins over a roster: imports keep it and say so."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.outcome import Outcome
from service.domain.people import set_language
from service.models import Person, Programme
from service.models.enums import Channel, Language
from service.roster import ImportKind
from tests.service.roster.test_importer import PEOPLE, kenya, run_import, write

__all__ = ["kenya"]  # the fixture, shared with the importer's tests

ACHIENG = "+254712345678"


async def achieng(session: AsyncSession) -> Person:
    session.expunge_all()
    return (await session.exec(select(Person).where(Person.phone == ACHIENG))).one()


async def test_a_language_the_person_chose_survives_a_reimport_and_is_counted(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    path = write(tmp_path, "p.csv", PEOPLE)
    await run_import(session, kenya, ImportKind.people, path, skip=True)
    person = await achieng(session)
    assert person.language is Language.sw and person.language_chosen_at is None
    assert person.id is not None
    await set_language(
        kenya, person.id, Language.en, session=session, actor=Actor.person(person.id, Channel.ussd)
    )
    await session.commit()
    again = await run_import(session, kenya, ImportKind.people, path, skip=True)
    person = await achieng(session)
    assert person.language is Language.en
    assert again.kept_own_language == 1
    assert again.outcomes == {Outcome.created: 0, Outcome.updated: 0, Outcome.unchanged: 4}
    assert person.language_chosen_at is not None and person.language_chosen_channel is Channel.ussd


async def test_an_import_still_changes_the_other_fields_of_a_person_who_chose(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    await run_import(session, kenya, ImportKind.people, write(tmp_path, "p.csv", PEOPLE), skip=True)
    person = await achieng(session)
    assert person.id is not None
    await set_language(
        kenya, person.id, Language.en, session=session, actor=Actor.person(person.id, Channel.ussd)
    )
    await session.commit()
    renamed = PEOPLE.replace("Achieng Otieno,0712 345 678,sw", "Achieng Were,0712 345 678,")
    report = await run_import(
        session, kenya, ImportKind.people, write(tmp_path, "p2.csv", renamed), skip=True
    )
    person = await achieng(session)
    assert (person.name, person.language) == ("Achieng Were", Language.en)
    assert report.outcomes[Outcome.updated] == 1 and report.kept_own_language == 1


async def test_an_import_agreeing_with_the_persons_choice_keeps_nothing(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    await run_import(session, kenya, ImportKind.people, write(tmp_path, "p.csv", PEOPLE), skip=True)
    person = await achieng(session)
    assert person.id is not None
    await set_language(
        kenya, person.id, Language.en, session=session, actor=Actor.person(person.id, Channel.ussd)
    )
    await session.commit()
    agreeing = PEOPLE.replace("Achieng Otieno,0712 345 678,sw", "Achieng Otieno,0712 345 678,en")
    report = await run_import(
        session, kenya, ImportKind.people, write(tmp_path, "p2.csv", agreeing), skip=True
    )
    assert report.kept_own_language == 0 and report.outcomes[Outcome.unchanged] == 4
