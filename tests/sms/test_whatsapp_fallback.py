"""A WhatsApp message reported failed reaches the teacher by SMS, once, with the reason."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Message
from service.models.enums import Direction, MessageStatus, Reach
from sms.delivery import DeliveryReport, apply_reports
from tests import factories as f


async def test_a_failed_whatsapp_reminder_is_sent_again_by_sms_once(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    member = w.members[0]
    assert member.phone is not None
    reminder = Message(
        programme_id=w.pid,
        person_id=member.id,
        meeting_id=w.meeting.id,
        community_id=w.community.id,
        direction=Direction.outbound,
        kind="reminder",
        phone=member.phone,
        template="reminder",
        params={"community": "Maths", "code": w.meeting.code},
        body="CoP Maths: meeting Tue 14:00. Reply YES or NO.",
        language=member.language,
        status=MessageStatus.sent,
        provider_id="ATWA_1",
        reach=Reach.whatsapp,
        dedupe_key="reminder:1",
    )
    session.add(reminder)
    await session.commit()
    failed = DeliveryReport("ATWA_1", MessageStatus.failed, "failed", None, "NotOnWhatsApp", None)
    for _ in range(2):  # a repeated report changes nothing more
        await apply_reports(session, [failed], f.now())
        await session.commit()
    person_id, params, meeting_id = member.id, reminder.params, w.meeting.id
    session.expire_all()
    rows = (
        await session.exec(
            select(Message).where(Message.person_id == person_id).order_by(col(Message.id))
        )
    ).all()
    assert [(m.reach, m.status) for m in rows] == [
        (Reach.whatsapp, MessageStatus.failed),
        (Reach.sms, MessageStatus.queued),
    ]
    resend = rows[1]
    assert (resend.template, resend.params, resend.body) == ("reminder", params, None)
    assert (resend.meeting_id, resend.kind) == (meeting_id, "reminder")
    assert "NotOnWhatsApp" in (resend.fallback_reason or "")


async def test_a_failed_sms_is_not_sent_again(session: AsyncSession) -> None:
    w = await f.world(session)
    member = w.members[0]
    assert member.phone is not None
    session.add(
        Message(
            programme_id=w.pid, person_id=member.id, direction=Direction.outbound,
            kind="reply", phone=member.phone, template="help", status=MessageStatus.sent,
            provider_id="ATXid_1",
        )
    )  # fmt: skip
    await session.commit()
    report = DeliveryReport("ATXid_1", MessageStatus.failed, "Failed", None, "Rejected", None)
    await apply_reports(session, [report], f.now())
    await session.commit()
    person_id = member.id
    session.expire_all()
    rows = (await session.exec(select(Message).where(Message.person_id == person_id))).all()
    assert [m.status for m in rows] == [MessageStatus.failed]
