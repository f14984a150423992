"""A teacher chooses their channel on USSD (Language and channel): WhatsApp chosen there
is their opt-in, audited with the channel; SMS keeps the opt-in history."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.programmes import ProgrammeSettings, update_programme
from service.models import AuditEntry, Person
from service.models.enums import Channel, Language, Reach
from tests import factories as f
from tests.ussd_menus.test_language_choice import TOKEN, key_of
from ussd_menus.catalog import Catalog
from ussd_menus.phone import Phone

CATALOG = Catalog.load()


async def _teacher_speaking(session: AsyncSession, language: Language) -> tuple[f.World, Person]:
    w = await f.world(session)
    assert w.programme.id is not None
    every = ProgrammeSettings(languages=list(Language))
    await update_programme(w.programme.id, every, session=session, actor=f.OPERATOR)
    teacher = await f.person(session, w.programme, school_id=w.school.id, language=language)
    await session.commit()
    return w, teacher


async def _stored(session: AsyncSession, person_id: int | None) -> Person:
    await session.rollback()  # end the last read: SQLite would keep showing its snapshot
    session.expunge_all()
    return (await session.exec(select(Person).where(Person.id == person_id))).one()


async def _choose(phone: Phone, language: Language, option: str) -> str:
    """Home → Language and channel → SMS or WhatsApp → option → confirm."""

    def text(key: str) -> str:
        return CATALOG.text(language, key)

    home = await phone.dial()
    menu = await phone.press(key_of(home, text("reach.home")))
    channels = await phone.press(key_of(menu, text("reach.option")))
    assert channels.split("\n")[1:3] == ["1 SMS", "2 WhatsApp"]
    confirm = await phone.press(option)
    assert confirm.endswith(f"{text('reach.yes')}\n{text('common.back')}")
    return await phone.press("1")


@pytest.mark.parametrize("language", list(Language))
async def test_choosing_whatsapp_on_ussd_records_the_opt_in_in_the_callers_language(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, teacher = await _teacher_speaking(session, language)
    assert teacher.phone is not None
    phone = Phone(client, number=teacher.phone, service_code=w.programme.service_code, token=TOKEN)
    done = await _choose(phone, language, "2")
    assert done == CATALOG.text(language, "reach.saved_whatsapp") and phone.ended
    stored = await _stored(session, teacher.id)
    assert stored.reach is Reach.whatsapp and stored.whatsapp_opt_in_at is not None
    (entry,) = (
        await session.exec(
            select(AuditEntry).where(
                AuditEntry.action == "person.reach", AuditEntry.object_id == teacher.id
            )
        )
    ).all()
    assert entry.channel is Channel.ussd and entry.actor == f"person:{teacher.id}"


async def test_choosing_sms_again_keeps_the_whatsapp_opt_in_time(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w, teacher = await _teacher_speaking(session, Language.en)
    assert teacher.phone is not None
    phone = Phone(client, number=teacher.phone, service_code=w.programme.service_code, token=TOKEN)
    await _choose(phone, Language.en, "2")
    opted = (await _stored(session, teacher.id)).whatsapp_opt_in_at
    done = await _choose(phone, Language.en, "1")
    assert done == "Done: your messages now come by SMS."
    stored = await _stored(session, teacher.id)
    assert stored.reach is Reach.sms and stored.whatsapp_opt_in_at == opted is not None


async def test_the_confirm_screen_names_the_number_whatsapp_will_write_to(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w, teacher = await _teacher_speaking(session, Language.en)
    assert teacher.phone is not None
    phone = Phone(client, number=teacher.phone, service_code=w.programme.service_code, token=TOKEN)
    home = await phone.dial()
    menu = await phone.press(key_of(home, "Language & channel"))
    await phone.press(key_of(menu, "SMS or WhatsApp"))
    confirm = await phone.press("2")
    assert teacher.phone in confirm and "If WhatsApp fails, they come by SMS." in confirm
    refused = await phone.press("3")
    assert refused.startswith("Invalid choice.") and not phone.ended
    assert (await _stored(session, teacher.id)).reach is Reach.sms
