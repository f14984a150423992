"""A person's channel: who chose WhatsApp decides whether it is their opt-in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.errors import ValidationError
from service.domain.programmes import ProgrammeSettings, update_programme
from service.domain.reach import opted_in, set_reach
from service.models import AuditEntry, Person, Programme
from service.models.enums import Channel, Reach
from tests import factories as f


async def _stored(session: AsyncSession, person_id: int) -> Person:
    session.expunge_all()
    person = await session.get(Person, person_id)
    assert person is not None
    return person


async def _reach_audits(session: AsyncSession, person_id: int) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(
        AuditEntry.action == "person.reach", AuditEntry.object_id == person_id
    )
    return list((await session.exec(stmt.order_by(AuditEntry.id))).all())  # type: ignore[arg-type]


async def _teacher(session: AsyncSession) -> tuple[Programme, int]:
    prog = await f.programme(session)
    person = await f.person(session, prog)
    assert person.id is not None
    await session.commit()
    return prog, person.id


async def test_choosing_whatsapp_themselves_records_the_opt_in_and_the_channel(
    session: AsyncSession,
) -> None:
    prog, pid = await _teacher(session)
    now = f.now()
    await set_reach(
        prog, pid, Reach.whatsapp, session=session,
        actor=Actor.person(pid, Channel.ussd), now=now, opt_in=True,
    )  # fmt: skip
    await session.commit()
    person = await _stored(session, pid)
    assert person.reach is Reach.whatsapp
    assert person.whatsapp_opt_in_at == now and opted_in(person)
    (entry,) = await _reach_audits(session, pid)
    assert entry.channel is Channel.ussd and entry.actor == f"person:{pid}"
    assert entry.changes["reach"] == ["sms", "whatsapp"]


async def test_staff_setting_whatsapp_sets_the_channel_but_not_the_opt_in(
    session: AsyncSession,
) -> None:
    prog, pid = await _teacher(session)
    await set_reach(
        prog, pid, Reach.whatsapp, session=session, actor=Actor.api_key(1), now=f.now(),
        opt_in=False,
    )  # fmt: skip
    await session.commit()
    person = await _stored(session, pid)
    assert person.reach is Reach.whatsapp
    assert person.whatsapp_opt_in_at is None and not opted_in(person)
    (entry,) = await _reach_audits(session, pid)
    assert entry.channel is Channel.api


async def test_going_back_to_sms_keeps_the_opt_in_history(session: AsyncSession) -> None:
    prog, pid = await _teacher(session)
    me = Actor.person(pid, Channel.sms)
    opted = f.now() - timedelta(days=3)
    await set_reach(prog, pid, Reach.whatsapp, session=session, actor=me, now=opted, opt_in=True)
    await set_reach(prog, pid, Reach.sms, session=session, actor=me, now=f.now(), opt_in=True)
    await session.commit()
    person = await _stored(session, pid)
    assert person.reach is Reach.sms and person.whatsapp_opt_in_at == opted
    assert len(await _reach_audits(session, pid)) == 2


async def test_choosing_whatsapp_again_after_a_whatsapp_stop_is_a_new_opt_in(
    session: AsyncSession,
) -> None:
    prog, pid = await _teacher(session)
    person = await session.get(Person, pid)
    assert person is not None
    person.whatsapp_opt_in_at = f.now() - timedelta(days=9)
    person.whatsapp_opted_out_at = f.now() - timedelta(days=2)
    person.opted_out_at = f.now() - timedelta(days=1)  # and STOP on SMS too
    await session.commit()
    now = f.now()
    await set_reach(
        prog, pid, Reach.whatsapp, session=session,
        actor=Actor.person(pid, Channel.ussd), now=now, opt_in=True,
    )  # fmt: skip
    await session.commit()
    person = await _stored(session, pid)
    assert person.whatsapp_opt_in_at == now and person.whatsapp_opted_out_at is None
    assert person.opted_out_at is not None  # choosing a channel does not undo STOP


async def test_choosing_the_same_channel_again_writes_nothing(session: AsyncSession) -> None:
    prog, pid = await _teacher(session)
    me = Actor.person(pid, Channel.ussd)
    first = f.now() - timedelta(hours=1)
    await set_reach(prog, pid, Reach.whatsapp, session=session, actor=me, now=first, opt_in=True)
    await set_reach(prog, pid, Reach.whatsapp, session=session, actor=me, now=f.now(), opt_in=True)
    await session.commit()
    assert (await _stored(session, pid)).whatsapp_opt_in_at == first
    assert len(await _reach_audits(session, pid)) == 1


async def test_someone_without_a_phone_cannot_be_set_to_whatsapp(session: AsyncSession) -> None:
    prog = await f.programme(session)
    person = await f.person(session, prog, phone=None)
    assert person.id is not None
    await session.commit()
    with pytest.raises(ValidationError, match="no phone"):
        await set_reach(
            prog, person.id, Reach.whatsapp, session=session, actor=f.OPERATOR, now=f.now(),
            opt_in=False,
        )  # fmt: skip
    await session.rollback()
    assert (await _stored(session, person.id)).reach is Reach.sms


@pytest.mark.parametrize("written", ["+254711082000", "+254 711 082 000"])
async def test_a_programmes_whatsapp_number_is_stored_in_e164(
    session: AsyncSession, written: str
) -> None:
    prog = await f.programme(session)
    assert prog.id is not None
    settings = ProgrammeSettings(whatsapp_number=written)
    await update_programme(prog.id, settings, session=session, actor=f.OPERATOR)
    await session.commit()
    session.expunge_all()
    stored = await session.get(Programme, prog.id)
    assert stored is not None and stored.whatsapp_number == "+254711082000"


@pytest.mark.parametrize("written", ["0711082000", "+2547110820001", "whatsapp"])
def test_a_whatsapp_number_not_in_e164_is_refused(written: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        ProgrammeSettings(whatsapp_number=written)
