"""A hybrid CoP end to end, through the simulator over HTTP and the real SDK: members on
WhatsApp and members on SMS get the same meeting each on their own channel, in their
own language; a tapped "I'll come" is an RSVP; WhatsApp's rules send what they forbid
by SMS, with the reason; STOP on WhatsApp stops WhatsApp."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.broadcasts import BroadcastInput, broadcast
from service.domain.communities import add_member
from service.models import Attendance, Message, Person
from service.models.enums import Channel, Direction, Language, Reach, Rsvp
from tests import factories as f
from tests.sms.stack import TEXTS, Clock, Stack

WA_NUMBER = "+254711082000"  # the simulator's business number
YES = {Language.en: "YES", Language.sw: "NDIYO", Language.rw: "YEGO", Language.fr: "OUI",
       Language.ny: "INDE"}  # fmt: skip


async def chat(stack: Stack, phone: str | None) -> list[dict[str, Any]]:
    answer = await stack.http.get(f"{stack.simulator.url}/sim/whatsapp/{phone}")
    return list(answer.json()["messages"])


async def rows_to(stack: Stack, person: Person) -> list[Message]:
    async with stack.sessions() as s:
        found = await s.exec(
            select(Message)
            .where(Message.person_id == person.id, Message.direction == Direction.outbound)
            .order_by(col(Message.id))
        )
        return list(found.all())


async def drain(stack: Stack, clock: Clock) -> None:
    """Send until nothing is due: a phone's messages go one after the other."""
    sender = stack.sender(clock)
    for _ in range(10):
        if (await sender.send_due()).claimed == 0:
            return


async def test_a_hybrid_cop_from_reminder_to_stop(stack: Stack, session: AsyncSession) -> None:
    prog = await f.programme(session)
    prog.whatsapp_number = WA_NUMBER
    prog.whatsapp_price = Decimal("0.5")  # a template; free text in the window is free
    # No quiet hours: the window is WhatsApp's (real time), so the test runs at any hour.
    prog.quiet_hours_start = prog.quiet_hours_end = time(0, 0)
    comm = await f.community(session, prog)
    assert prog.id is not None and comm.id is not None
    languages = [Language.sw, Language.en, Language.sw]
    on_whatsapp = [await f.person(session, prog, language=lang) for lang in languages]
    on_sms = [await f.person(session, prog, language=lang) for lang in languages]
    now = f.now()
    for person in on_whatsapp:
        person.reach, person.whatsapp_opt_in_at = Reach.whatsapp, now - timedelta(days=7)
    for person in on_whatsapp + on_sms:
        assert person.id is not None
        await add_member(prog.id, comm.id, person.id, session=session, actor=f.OPERATOR)
    meeting = await f.meeting(session, prog, comm, starts_in=timedelta(hours=48, minutes=1))
    await session.commit()
    absent = on_whatsapp[2]  # chose WhatsApp, but the number is not on it
    await stack.http.post(f"{stack.simulator.url}/sim/whatsapp/absent/{absent.phone}")

    # 48 hours before: each member's reminder on their own channel, in their language.
    clock = Clock(meeting.starts_at - timedelta(hours=48))
    worker = stack.worker(clock)
    await worker.tick({})
    await drain(stack, clock)
    for person in on_sms:
        [reminder] = await stack.texts(person.phone)
        assert f"{YES[person.language]} {meeting.code}" in reminder
    for person in on_whatsapp[:2]:
        [message] = await chat(stack, person.phone)
        assert f"{YES[person.language]} {meeting.code}" in message["text"]
        yes = TEXTS.render("button_yes", person.language, {}, timezone="UTC")
        assert yes in message["buttons"] and message["template"]  # outside the window
        assert await stack.texts(person.phone) == []  # no SMS as well
        [row] = await rows_to(stack, person)
        assert row.reach is Reach.whatsapp and row.fallback_reason is None
        assert (row.cost, row.currency) == (Decimal("0.5"), prog.currency)
    [fallen] = await rows_to(stack, absent)
    assert fallen.reach is Reach.sms and "not_on_whatsapp" in (fallen.fallback_reason or "")
    assert len(await stack.texts(absent.phone)) == 1 and await chat(stack, absent.phone) == []

    # Amina taps "I'll come" under her reminder: the RSVP, with channel whatsapp.
    tapper, quiet = on_whatsapp[:2]
    tapped = await stack.http.post(
        f"{stack.simulator.url}/sim/phones/{tapper.phone}/whatsapp", json={"button": 1}
    )
    assert tapped.status_code == 200, tapped.text
    async with stack.sessions() as s:
        seat = (
            await s.exec(
                select(Attendance).where(
                    Attendance.meeting_id == meeting.id, Attendance.person_id == tapper.id
                )
            )
        ).one()
        assert (seat.rsvp, seat.rsvp_channel) == (Rsvp.yes, Channel.whatsapp)

    # A facilitator's broadcast: free text on WhatsApp only inside the 24-hour window
    # (Amina just wrote); never attempted for the member who has not written.
    clock.now += timedelta(minutes=5)
    async with stack.sessions() as s:
        programme = await s.get(type(prog), prog.id)
        assert programme is not None
        text = BroadcastInput(text="Bring your exercise books.")
        await broadcast(programme, comm.id, text, session=s, actor=f.OPERATOR, now=clock.now)
        await s.commit()
    await drain(stack, clock)
    assert any("exercise books" in m["text"] for m in await chat(stack, tapper.phone))
    free = (await rows_to(stack, tapper))[-1]
    assert (free.reach, free.body, free.cost) == (Reach.whatsapp, text.text, Decimal("0"))
    assert not any("exercise books" in m["text"] for m in await chat(stack, quiet.phone))
    assert any("exercise books" in t for t in await stack.texts(quiet.phone))
    last = (await rows_to(stack, quiet))[-1]
    assert last.reach is Reach.sms and "24-hour" in (last.fallback_reason or "")

    # STOP on WhatsApp stops WhatsApp: what follows comes by SMS, and it says so.
    await stack.http.post(
        f"{stack.simulator.url}/sim/phones/{tapper.phone}/whatsapp", json={"text": "STOP"}
    )
    async with stack.sessions() as s:
        stopped = await s.get(Person, tapper.id)
        assert stopped is not None and stopped.whatsapp_opted_out_at is not None
    clock.now += timedelta(minutes=5)
    await drain(stack, clock)
    confirmation = (await rows_to(stack, tapper))[-1]
    assert confirmation.template == "whatsapp_stopped" and confirmation.reach is Reach.sms
    assert any("WhatsApp" in t for t in await stack.texts(tapper.phone))
