"""A facilitator's SMS commands: MSG and WHO about a meeting, TO a member.

- `MSG <code> <text>`: the text goes, as written, to the meeting's community: its
  active members with a phone who have not opted out (`service.domain.broadcasts`,
  audited there). The facilitator is told how many it went to, or that quiet hours
  hold it until a time, or that nobody can get SMS.
- `WHO <code>`: the members' RSVP counts (yes, no, no reply), how many checked in,
  and the first names of those who have not replied, as many as one SMS holds
  ("+N more").
- `TO <name or number> <text>`: see `sms.forwarding`.

Only a facilitator of the meeting's community may MSG or WHO it; anyone else is
told so. Without a code a facilitator is shown how to write the command; from a
person who facilitates nothing, a text that merely starts with "who" or "to" is
their own words and is passed on (`handle` returns None).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import outbox
from service.domain.actor import Actor
from service.domain.broadcasts import MAX_TEXT, BroadcastInput, broadcast
from service.models import Attendance, Meeting, Membership, Person, Programme
from service.models.enums import Channel, MembershipRole, MembershipStatus, Presence, Rsvp
from sms.addressing import facilitated_by
from sms.forwarding import answer
from sms.keywords import Command, Keyword
from sms.lists import first_name, fit_names
from sms.replies import Reply, meeting_by_code
from sms.texts import SmsTexts

# What the facilitator is told after MSG, by what became of the members' SMS. A
# message tied to no meeting start is never dropped for lateness.
MSG_CONFIRMATIONS = {
    outbox.Fate.sent: "msg_sent",
    outbox.Fate.held: "msg_held",
    outbox.Fate.dropped: "msg_nobody",
    outbox.Fate.nobody: "msg_nobody",
}
USAGE = {Keyword.msg: "msg_usage", Keyword.who: "who_usage"}


async def handle(
    session: AsyncSession,
    texts: SmsTexts,
    programme: Programme,
    person: Person,
    command: Command,
    reply: Reply,
    now: datetime,
) -> str | None:
    """Act on MSG, WHO or TO; None when the text is not a command from this person."""
    assert programme.id is not None and person.id is not None
    communities = await facilitated_by(session, person.id)
    if command.keyword is Keyword.to:
        if not communities:
            return None
        return await answer(
            session, texts, programme, person, communities, command.rest, reply, now
        )
    if command.code is None:
        return await reply(USAGE[command.keyword], now) if communities else None
    meeting = await meeting_by_code(session, programme.id, command.code)
    if meeting is None:
        return await reply("unknown_code", now, code=command.code)
    if meeting.community_id not in communities:
        return await reply("not_facilitator", now, code=meeting.code)
    if command.keyword is Keyword.msg:
        return await _message(session, programme, person, meeting, command.rest, reply, now)
    return await _who(session, texts, programme, person, meeting, reply, now)


async def _message(
    session: AsyncSession,
    programme: Programme,
    facilitator: Person,
    meeting: Meeting,
    text: str,
    reply: Reply,
    now: datetime,
) -> str:
    if not text:
        return await reply("msg_usage", now)
    assert facilitator.id is not None
    queued = await broadcast(
        programme,
        meeting.community_id,
        BroadcastInput(text=text[:MAX_TEXT]),
        session=session,
        actor=Actor.person(facilitator.id, Channel.sms),
        now=now,
    )
    send_time = queued.send_after.isoformat() if queued.send_after else None
    template = MSG_CONFIRMATIONS[queued.fate(now)]
    return await reply(template, now, code=meeting.code, count=queued.queued, send_time=send_time)


async def _who(
    session: AsyncSession,
    texts: SmsTexts,
    programme: Programme,
    facilitator: Person,
    meeting: Meeting,
    reply: Reply,
    now: datetime,
) -> str:
    """The meeting's answers so far, counted over the community's active members (its
    facilitators, who run the meeting, are not counted or listed)."""
    rows = await session.execute(
        sa.select(col(Person.name), col(Attendance.rsvp), col(Attendance.presence))
        .join(Membership, col(Membership.person_id) == col(Person.id))
        .outerjoin(
            Attendance,
            sa.and_(
                col(Attendance.person_id) == col(Person.id),
                col(Attendance.meeting_id) == meeting.id,
            ),
        )
        .where(
            col(Membership.community_id) == meeting.community_id,
            col(Membership.role) == MembershipRole.member,
            col(Membership.status) == MembershipStatus.active,
        )
        .order_by(col(Person.name), col(Person.id))
    )
    yes = no = present = 0
    waiting: list[str] = []
    for name, rsvp, presence in rows.all():
        yes += rsvp == Rsvp.yes
        no += rsvp == Rsvp.no
        present += presence in (Presence.present, Presence.remote)
        if rsvp in (None, Rsvp.none):
            waiting.append(first_name(name))
    counts = {"code": meeting.code, "yes": yes, "no": no, "present": present}
    if not waiting:
        return await reply("who_all", now, None, **counts)
    counts["waiting"] = len(waiting)
    names = fit_names(texts, "who", facilitator, counts, waiting, timezone=programme.timezone)
    return await reply("who", now, None, **counts, names=names)
