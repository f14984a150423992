"""A facilitator's REMIND and CANCEL by SMS are answered with what became of the members' SMS:
going out now, held by quiet hours until a time, or not sent and why."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Meeting, Message
from service.models.enums import Language, MessageStatus
from sms.inbound import InboundSms, receive
from sms.texts import SmsTexts
from tests import factories as f

TEXTS = SmsTexts.load()
NAIROBI = ZoneInfo("Africa/Nairobi")  # the world's programme; quiet hours 19:00-07:00
_ids = count(1)


def evening_or_morning(hour: int) -> datetime:
    """A moment a week ahead at `hour` o'clock in the programme's time."""
    day = (f.now() + timedelta(days=7)).astimezone(NAIROBI).date()
    return datetime.combine(day, time(hour, 0), tzinfo=NAIROBI)


async def texted(session: AsyncSession, w: f.World, text: str, now: datetime) -> Message:
    """The facilitator texts `text` at `now`; the reply copline queued for them."""
    assert w.facilitator.phone is not None
    sms = InboundSms(
        sender=w.facilitator.phone,
        to="20880",
        text=text,
        received_at=now,
        provider_id=f"ATInbound_confirm_{next(_ids)}",
        link_id=None,
        network_code="63902",
    )
    await receive(session, sms, now, TEXTS)
    [reply] = (
        await session.exec(select(Message).where(Message.dedupe_key == f"reply:{sms.provider_id}"))
    ).all()
    return reply


async def meeting_at(session: AsyncSession, w: f.World, now: datetime, hours: float) -> Meeting:
    return await f.meeting(
        session, w.programme, w.community, at=now, starts_in=timedelta(hours=hours)
    )


@pytest.mark.parametrize(
    ("hour", "hours_ahead", "remind", "cancel"),
    [
        (20, 14, "remind_held", "cancel_held"),  # quiet hours end at 07:00, before the meeting
        (20, 1.5, "remind_dropped", "cancel_dropped"),  # quiet hours outlast the meeting's start
        (10, 5, "remind_sent", "cancel_done"),  # daytime: out now
    ],
    ids=["held until morning", "quiet until the meeting starts", "daytime"],
)
async def test_remind_and_cancel_by_sms_say_what_became_of_the_members_sms(
    session: AsyncSession, hour: int, hours_ahead: float, remind: str, cancel: str
) -> None:
    w = await f.world(session)
    now = evening_or_morning(hour)
    meeting = await meeting_at(session, w, now, hours_ahead)

    reminded = await texted(session, w, f"REMIND {meeting.code}", now)
    cancelled = await texted(session, w, f"CANCEL {meeting.code}", now)

    assert (reminded.template, cancelled.template) == (remind, cancel)
    for reply in (reminded, cancelled):
        text = TEXTS.render(
            reply.template or "", Language.en, reply.params or {}, timezone=w.programme.timezone
        )
        if remind == "remind_held":
            assert "07:00" in text and "2 member(s)" in text
        elif remind == "remind_sent":
            assert "2" in text
        else:
            assert "after the meeting starts" in text or "until the meeting starts" in text
    statuses = (
        await session.exec(
            select(Message.status).where(
                col(Message.meeting_id) == meeting.id, Message.template == "cancelled"
            )
        )
    ).all()
    expected = MessageStatus.dropped if remind == "remind_dropped" else MessageStatus.queued
    assert statuses == [expected, expected]


# Seven in the morning in each language's clock format.
SEVEN = {
    Language.en: "07:00",
    Language.sw: "07:00",
    Language.rw: "07:00",
    Language.fr: "07h00",
    Language.ny: "07:00",
}


@pytest.mark.parametrize("language", list(Language))
async def test_a_reminder_held_overnight_says_until_when_in_the_facilitators_language(
    session: AsyncSession, language: Language
) -> None:
    shown = SEVEN[language]
    w = await f.world(session)
    w.facilitator.language = language
    now = evening_or_morning(20)
    meeting = await meeting_at(session, w, now, 14)
    reply = await texted(session, w, f"REMIND {meeting.code}", now)
    assert (reply.template, reply.language) == ("remind_held", language)
    text = TEXTS.render("remind_held", language, reply.params or {}, timezone="Africa/Nairobi")
    assert shown in text and meeting.code in text and "2" in text


async def test_remind_and_cancel_with_no_member_to_text_say_so(session: AsyncSession) -> None:
    w = await f.world(session)
    now = evening_or_morning(10)
    for member in w.members:
        member.opted_out_at = now
    meeting = await meeting_at(session, w, now, 5)
    reminded = await texted(session, w, f"REMIND {meeting.code}", now)
    cancelled = await texted(session, w, f"CANCEL {meeting.code}", now)
    assert (reminded.template, cancelled.template) == ("remind_nobody", "cancel_nobody")
