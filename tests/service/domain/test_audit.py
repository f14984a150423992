"""The audit trail says who changed what, through which channel, in which programme."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.attendance import record_rsvp
from service.models import AuditEntry
from service.models.enums import Channel, Rsvp
from tests import factories as f


async def test_each_change_is_recorded_with_object_actor_channel_and_programme(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    member = w.members[0]
    assert w.meeting.id is not None and member.id is not None
    await record_rsvp(
        w.pid,
        w.meeting.id,
        member.id,
        Rsvp.no,
        "Sick",
        session=session,
        actor=Actor.person(member.id, Channel.sms),
    )
    await session.commit()
    entries = (await session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))).all()
    created = next(e for e in entries if e.action == "person.create" and e.object_id == member.id)
    assert (created.object_type, created.programme_id) == ("person", w.pid)
    assert (created.actor, created.channel) == ("cli:tests", Channel.cli)
    assert created.changes["phone"] == member.phone
    rsvp = entries[-1]
    assert (rsvp.action, rsvp.object_type, rsvp.programme_id) == (
        "attendance.rsvp",
        "attendance",
        w.pid,
    )
    assert (rsvp.actor, rsvp.channel) == (f"person:{member.id}", Channel.sms)
    assert rsvp.changes["rsvp"] == ["none", "no"] and rsvp.changes["reason"] == [None, "Sick"]
    programme = next(e for e in entries if e.action == "programme.create")
    assert (programme.object_type, programme.object_id, programme.programme_id) == (
        "programme",
        w.pid,
        w.pid,
    )
