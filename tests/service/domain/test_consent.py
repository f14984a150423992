"""Consent is a history: given, refused or withdrawn, each with time, channel and who
recorded it; withdrawing or refusing stops messages as STOP does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.consent import history, record_consent
from service.domain.errors import ValidationError
from service.domain.people import opt_out
from service.domain.reminders import remind_now
from service.models import AuditEntry, Message, Person
from service.models.enums import Channel, ConsentState, MessageStatus
from tests import factories as f

STAFF = Actor.api_key(7)


async def test_each_recording_is_kept_with_its_time_channel_and_recorder(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    teacher = w.members[0]
    start = f.now()
    await record_consent(teacher, ConsentState.given, channel=Channel.ussd, session=session,
                         actor=Actor.person(teacher.id or 0, Channel.ussd), now=start)  # fmt: skip
    await record_consent(teacher, ConsentState.withdrawn, channel=Channel.api, session=session,
                         actor=STAFF, now=start + timedelta(days=30))  # fmt: skip
    await session.commit()

    entries = await history(session, teacher.id or 0)
    assert [(e.state, e.channel, e.recorded_by) for e in entries] == [
        (ConsentState.given, Channel.ussd, f"person:{teacher.id}"),
        (ConsentState.withdrawn, Channel.api, "apikey:7"),
    ]
    assert entries[1].at - entries[0].at == timedelta(days=30)
    person = await session.get(Person, teacher.id, populate_existing=True)
    assert person is not None
    assert (person.consent, person.consent_channel) == (ConsentState.withdrawn, Channel.api)
    assert person.consent_at == entries[1].at
    audited = (
        await session.exec(select(AuditEntry).where(AuditEntry.action == "person.consent"))
    ).all()
    assert len(audited) == 2


@pytest.mark.parametrize("state", [ConsentState.withdrawn, ConsentState.refused])
async def test_withdrawing_or_refusing_consent_stops_messages_as_stop_does(
    session: AsyncSession, state: ConsentState
) -> None:
    w = await f.world(session)
    teacher = w.members[0]
    assert w.meeting.id is not None
    await remind_now(w.programme, w.meeting.id, session=session, actor=f.OPERATOR)
    await session.commit()

    await record_consent(teacher, state, channel=Channel.api, session=session, actor=STAFF)
    await session.commit()

    assert teacher.opted_out_at is not None
    mine = (await session.exec(select(Message).where(col(Message.person_id) == teacher.id))).all()
    assert {m.status for m in mine} == {MessageStatus.dropped}
    others = (
        await session.exec(select(Message).where(col(Message.person_id) == w.members[1].id))
    ).all()
    assert {m.status for m in others} == {MessageStatus.queued}


async def test_consent_given_by_staff_restarts_what_staff_stopped_but_not_the_persons_stop(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    on_paper, by_stop = w.members
    await record_consent(on_paper, ConsentState.withdrawn, channel=Channel.api, session=session,
                         actor=STAFF)  # fmt: skip
    await opt_out(by_stop, channel=Channel.sms, session=session,
            actor=Actor.person(by_stop.id or 0, Channel.sms))  # fmt: skip
    await session.commit()

    for person in (on_paper, by_stop):
        await record_consent(person, ConsentState.given, channel=Channel.import_,
                             session=session, actor=f.OPERATOR)  # fmt: skip
    await session.commit()

    assert on_paper.opted_out_at is None  # staff stopped it, staff restarted it
    assert by_stop.opted_out_at is not None  # only their own START undoes their STOP
    assert by_stop.consent is ConsentState.given


async def test_unknown_is_not_a_consent_anyone_records(session: AsyncSession) -> None:
    w = await f.world(session)
    with pytest.raises(ValidationError):
        await record_consent(w.members[0], ConsentState.unknown, channel=Channel.api,
                             session=session, actor=STAFF)  # fmt: skip
