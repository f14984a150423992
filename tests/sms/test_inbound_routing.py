"""Which programme an inbound SMS belongs to when one phone is in several.

Programmes of one Africa's Talking account often share a two-way short code. A reply
goes to the programmes that use the code it was sent to; among those, to the one whose
meeting its code names, else to the one that last sent the phone an SMS; never to
whoever added the number last. STOP on a shared code stops every programme on it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from structlog.testing import capture_logs

from service.domain.actor import Actor
from service.domain.communities import add_member
from service.domain.people import opt_out
from service.models import Attendance, Message, Person, Programme
from service.models.enums import Channel, ConsentState, Direction, MessageStatus, Rsvp
from service.models.types import utcnow
from tests import factories as f

TOKEN = "dev-callback-token"
SHARED = "20880"
_ids = itertools.count(1)


async def text(client: httpx.AsyncClient, phone: str, body: str, *, to: str = SHARED) -> None:
    form = {
        "from": phone,
        "to": to,
        "text": body,
        "date": utcnow().strftime("%Y-%m-%d %H:%M:%S"),
        "id": f"ATRouting_{next(_ids)}",
        "linkId": "SampleLinkId123",
        "networkCode": "63902",
    }
    response = await client.post(f"/at/{TOKEN}/sms/inbound", data=form)
    assert response.status_code == 200, response.text


async def fresh(session: AsyncSession, model: Any, *where: Any) -> list[Any]:
    await session.rollback()
    session.expunge_all()
    return list((await session.exec(select(model).where(*where).order_by(model.id))).all())


async def rsvp(session: AsyncSession, meeting_id: int | None, person: Person) -> Rsvp:
    """The person's answer for the meeting; `none` while they have not given one."""
    rows = await fresh(
        session,
        Attendance,
        col(Attendance.meeting_id) == meeting_id,
        col(Attendance.person_id) == person.id,
    )
    return Rsvp(rows[0].rsvp) if rows else Rsvp.none


async def replies(session: AsyncSession, *people: Person) -> list[Message]:
    return await fresh(
        session,
        Message,
        col(Message.person_id).in_([p.id for p in people]),
        col(Message.kind) == "reply",
    )


async def inbox(session: AsyncSession, programme: Programme) -> list[Message]:
    return await fresh(
        session,
        Message,
        col(Message.programme_id) == programme.id,
        col(Message.direction) == Direction.inbound,
    )


async def person(session: AsyncSession, person_id: int | None) -> Person:
    [row] = await fresh(session, Person, col(Person.id) == person_id)
    assert isinstance(row, Person)
    return row


async def sms_to(
    session: AsyncSession,
    someone: Person,
    *,
    ago: timedelta,
    status: MessageStatus = MessageStatus.sent,
) -> None:
    """An outbound SMS the programme wrote to the person `ago` (sent, or still queued)."""
    at = utcnow() - ago
    session.add(
        Message(
            programme_id=someone.programme_id,
            person_id=someone.id,
            direction=Direction.outbound,
            kind="reminder",
            phone=someone.phone or "",
            body="Reminder",
            status=status,
            created_at=at,
            updated_at=at,
            send_after=at,
            sent_at=None if status is MessageStatus.queued else at,
        )
    )
    await session.commit()


@dataclass
class Shared:
    """Programme A's teacher; programme B holds the same number, added later."""

    a: f.World
    b: f.World
    teacher: Person  # in A, the older record
    twin: Person  # in B, same phone, created after the teacher

    @property
    def phone(self) -> str:
        assert self.teacher.phone is not None
        return self.teacher.phone


async def shared(
    session: AsyncSession,
    *,
    a_code: str | None = SHARED,
    b_code: str | None = SHARED,
    twin_is_a_member: bool = True,
) -> Shared:
    a = await f.world(session, slug="prog-a", short_code=a_code, sender_id="CoPA")
    b = await f.world(session, slug="prog-b", short_code=b_code, sender_id="CoPB")
    if b.meeting.code == a.meeting.code:  # codes are unique per programme, random across
        b.meeting.code = str((int(a.meeting.code) + 1) % 10_000).zfill(len(a.meeting.code))
    teacher = a.members[0]
    twin = await f.person(session, b.programme, name="Same Phone", phone=teacher.phone)
    assert twin.id is not None and b.community.id is not None
    if twin_is_a_member:
        await add_member(b.pid, b.community.id, twin.id, session=session, actor=f.OPERATOR)
    await session.commit()
    assert twin.created_at > teacher.created_at
    return Shared(a, b, teacher, twin)


# --- replies to a shared short code ---------------------------------------------------


async def test_a_reply_with_a_meeting_code_goes_to_the_programme_whose_meeting_it_names(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    s = await shared(session)
    await sms_to(session, s.twin, ago=timedelta(minutes=5))  # B wrote last: the code wins

    await text(client, s.phone, f"YES {s.a.meeting.code}")
    assert await rsvp(session, s.a.meeting.id, s.teacher) is Rsvp.yes
    assert [r.template for r in await replies(session, s.teacher)] == ["rsvp_yes"]

    await text(client, s.phone, f"NO {s.b.meeting.code}")
    assert await rsvp(session, s.b.meeting.id, s.twin) is Rsvp.no
    assert await rsvp(session, s.a.meeting.id, s.teacher) is Rsvp.yes
    assert [r.template for r in await replies(session, s.twin)] == ["rsvp_no"]


async def test_a_reply_without_a_code_goes_to_the_programme_that_last_sent_that_phone_an_sms(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    s = await shared(session)
    await sms_to(session, s.twin, ago=timedelta(days=2))
    await sms_to(session, s.teacher, ago=timedelta(hours=3))
    # Queued is not sent: the phone has not seen it, so it is not what they answer.
    await sms_to(session, s.twin, ago=timedelta(minutes=1), status=MessageStatus.queued)

    await text(client, s.phone, "YES")
    assert await rsvp(session, s.a.meeting.id, s.teacher) is Rsvp.yes
    assert await rsvp(session, s.b.meeting.id, s.twin) is Rsvp.none
    assert [m.body for m in await inbox(session, s.b.programme)] == []

    await sms_to(session, s.twin, ago=timedelta(minutes=1), status=MessageStatus.delivered)
    await text(client, s.phone, "NO")
    assert await rsvp(session, s.b.meeting.id, s.twin) is Rsvp.no
    assert await rsvp(session, s.a.meeting.id, s.teacher) is Rsvp.yes


async def test_a_number_copied_into_another_programme_does_not_capture_its_replies(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # A key holder of B adds A's teacher's number to B; A reminded the teacher.
    s = await shared(session, twin_is_a_member=False)
    await sms_to(session, s.teacher, ago=timedelta(hours=1))

    await text(client, s.phone, "YES")
    await text(client, s.phone, f"NDIYO {s.a.meeting.code}")
    await text(client, s.phone, "MSAADA")
    await text(client, s.phone, "where is the meeting?")

    assert await rsvp(session, s.a.meeting.id, s.teacher) is Rsvp.yes
    assert len(await inbox(session, s.a.programme)) == 4
    assert await inbox(session, s.b.programme) == []
    assert await replies(session, s.twin) == []
    assert [r.template for r in await replies(session, s.teacher)] == [
        "rsvp_yes",
        "rsvp_yes",
        "help",
        "forward_passed",  # a member's own words go to their facilitator in A
    ]


async def test_a_reply_that_names_no_programme_is_not_guessed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    s = await shared(session)  # no programme has written to the phone; no code in the text
    with capture_logs() as logs:
        await text(client, s.phone, "YES")
    assert await rsvp(session, s.a.meeting.id, s.teacher) is Rsvp.none
    assert await rsvp(session, s.b.meeting.id, s.twin) is Rsvp.none
    assert await inbox(session, s.a.programme) == await inbox(session, s.b.programme) == []
    assert await replies(session, s.teacher, s.twin) == []
    [entry] = [e for e in logs if e["event"] == "sms.inbound_ambiguous"]
    assert entry["phone"] != s.phone and entry["phone"][-2:] == s.phone[-2:]
    assert entry["programmes"] == 2
    assert s.phone not in repr(logs)


async def test_a_text_to_a_short_code_only_one_programme_uses_never_reaches_another(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    s = await shared(session, a_code=SHARED, b_code="30990")
    await sms_to(session, s.twin, ago=timedelta(minutes=1))  # B wrote last, and is newer

    await text(client, s.phone, "YES", to=SHARED)
    assert await rsvp(session, s.a.meeting.id, s.teacher) is Rsvp.yes
    assert await rsvp(session, s.b.meeting.id, s.twin) is Rsvp.none
    # Not even with B's own meeting code: B does not hear 20880.
    await text(client, s.phone, f"NO {s.b.meeting.code}", to=SHARED)
    assert await rsvp(session, s.b.meeting.id, s.twin) is Rsvp.none
    assert await inbox(session, s.b.programme) == []

    await text(client, s.phone, "NO", to="30990")
    assert await rsvp(session, s.b.meeting.id, s.twin) is Rsvp.no
    assert await rsvp(session, s.a.meeting.id, s.teacher) is Rsvp.yes


async def test_a_programme_without_a_short_code_hears_replies_to_any_code(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # A single-programme deployment that never set a code keeps working; B's code is
    # B's, but A never said which code it uses, so a reply from A's teacher still lands.
    a = await f.world(session, slug="prog-a", short_code=None)
    await f.world(session, slug="prog-b", short_code="30990", sender_id="CoPB")
    teacher = a.members[0]
    assert teacher.phone is not None
    await text(client, teacher.phone, f"YES {a.meeting.code}", to="30990")
    assert await rsvp(session, a.meeting.id, teacher) is Rsvp.yes


# --- STOP and START on a shared short code --------------------------------------------


async def test_stop_to_a_shared_short_code_stops_every_programme_on_it_with_one_confirmation(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    s = await shared(session)
    elsewhere = await f.world(session, slug="prog-c", short_code="30990", sender_id="CoPC")
    other = await f.person(session, elsewhere.programme, phone=s.phone)
    await sms_to(session, s.teacher, ago=timedelta(hours=2))
    for someone in (s.teacher, s.twin, other):
        await sms_to(session, someone, ago=timedelta(0), status=MessageStatus.queued)

    await text(client, s.phone, "Hagarika")

    for stopped in (s.teacher, s.twin):
        row = await person(session, stopped.id)
        assert row.opted_out_at is not None and row.opted_out_channel is Channel.sms
    assert (await person(session, other.id)).opted_out_at is None  # C is on another code
    pending = await fresh(
        session, Message, col(Message.kind) == "reminder", col(Message.sent_at).is_(None)
    )
    assert {(m.person_id, m.status) for m in pending} == {
        (s.teacher.id, MessageStatus.dropped),
        (s.twin.id, MessageStatus.dropped),
        (other.id, MessageStatus.queued),
    }
    # One confirmation, from the programme that wrote last, naming both.
    [confirmation] = await replies(session, s.teacher, s.twin, other)
    assert (confirmation.template, confirmation.person_id) == ("stopped", s.teacher.id)
    assert confirmation.params is not None
    named = confirmation.params["programme"]
    assert s.a.programme.name in named and s.b.programme.name in named

    await text(client, s.phone, "STOP")  # again: nothing more to stop, nothing more said
    assert len(await replies(session, s.teacher, s.twin, other)) == 1


async def test_start_to_a_shared_short_code_restarts_every_programme_its_stop_stopped(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    s = await shared(session)
    await text(client, s.phone, "STOP")
    await text(client, s.phone, "START")
    for restarted in (s.teacher, s.twin):
        row = await person(session, restarted.id)
        assert row.opted_out_at is None
        assert (row.consent, row.consent_channel) == (ConsentState.given, Channel.sms)
    assert sorted(r.template or "" for r in await replies(session, s.teacher, s.twin)) == [
        "started",
        "stopped",
    ]


async def test_start_leaves_an_opt_out_made_elsewhere_in_another_programme(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    s = await shared(session)
    await sms_to(session, s.teacher, ago=timedelta(hours=1))  # START is routed to A
    assert s.twin.id is not None
    await opt_out(
        s.twin, channel=Channel.ussd, session=session, actor=Actor.person(s.twin.id, Channel.ussd)
    )
    await session.commit()

    await text(client, s.phone, "START")
    assert (await person(session, s.teacher.id)).consent is ConsentState.given
    twin = await person(session, s.twin.id)
    assert twin.opted_out_at is not None and twin.opted_out_channel is Channel.ussd
    assert twin.consent is not ConsentState.given


# --- AT's opt-out callback ------------------------------------------------------------


async def test_ats_opt_out_callback_stops_only_the_programmes_using_that_sender(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    s = await shared(session, a_code=SHARED, b_code="30990")
    c = await f.world(session, slug="prog-c", short_code=SHARED, sender_id="CoPC")
    third = await f.person(session, c.programme, phone=s.phone)
    await session.commit()

    async def network_opt_out(sender: str) -> set[int | None]:
        answer = await client.post(
            f"/at/{TOKEN}/sms/optout", data={"senderId": sender, "phoneNumber": s.phone}
        )
        assert answer.status_code == 200
        rows = await fresh(session, Person, col(Person.phone) == s.phone)
        return {p.id for p in rows if p.opted_out_at is not None}

    assert await network_opt_out("AFRICASTKNG") == set()  # a sender none of them uses
    assert await network_opt_out("30990") == {s.twin.id}  # B's short code
    assert await network_opt_out("CoPC") == {s.twin.id, third.id}  # C's sender id
    assert await network_opt_out(SHARED) == {s.twin.id, third.id, s.teacher.id}


async def test_ats_opt_out_for_a_sender_no_programme_names_stops_those_without_a_sender_id(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # A programme with no sender id sends under the account's default: that is the
    # sender AT names when it names none of ours.
    a = await f.world(session, slug="prog-a", sender_id=None)
    b = await f.world(session, slug="prog-b", sender_id="CoPB")
    phone = a.members[0].phone or ""
    twin = await f.person(session, b.programme, phone=phone)
    await session.commit()
    answer = await client.post(
        f"/at/{TOKEN}/sms/optout", data={"senderId": "AFRICASTKNG", "phoneNumber": phone}
    )
    assert answer.status_code == 200
    assert (await person(session, a.members[0].id)).opted_out_at is not None
    assert (await person(session, twin.id)).opted_out_at is None
