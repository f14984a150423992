"""WhatsApp end to end over real HTTP: copline and the simulator on real ports, the SDK
between them. A message the adapter sent gets its status callbacks; a phone's button
reaches copline as an inbound WhatsApp row and opens the person's 24-hour window.

(Sending from the outbox by the person's channel is the next step; here the test
stores the row the sender will store.)
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Message, Person
from service.models.enums import Direction, MessageStatus, Reach
from service.models.types import utcnow
from sms.gateway import SIMULATOR_API_KEY
from sms.simulator.app import Simulator
from sms.whatsapp_gateway import AfricasTalkingWhatsApp, WhatsAppOutcome
from tests import factories as f
from tests.sms.stack import Stack

BUSINESS = "+254711082000"
RSVP = ["I'll come", "I can't come"]


async def read(session: AsyncSession, model: Any, *where: Any) -> list[Any]:
    await session.rollback()
    session.expunge_all()
    return list((await session.exec(select(model).where(*where).order_by(model.id))).all())


async def until(check: Any, within: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.05)


async def test_a_reminder_on_whatsapp_is_read_and_its_button_reaches_copline(
    stack: Stack, session: AsyncSession
) -> None:
    w = await f.world(session)
    member = w.members[0]
    w.programme.whatsapp_number = BUSINESS
    session.add(w.programme)
    await session.commit()
    phone = member.phone or ""
    gateway = AfricasTalkingWhatsApp(
        username="sandbox", api_key=SIMULATOR_API_KEY, base_url=stack.simulator.url, timeout_s=2
    )

    result = await asyncio.to_thread(
        gateway.send_template, BUSINESS, phone, "cop_reminder", "sw", ["Hisabati", "4821"], RSVP
    )
    assert result.outcome is WhatsAppOutcome.accepted
    row = Message(
        programme_id=w.pid,
        person_id=member.id,
        meeting_id=w.meeting.id,
        direction=Direction.outbound,
        kind="reminder",
        phone=phone,
        reach=Reach.whatsapp,
        template="reminder",
        status=MessageStatus.sent,
        provider_id=result.message_id,
        send_after=utcnow(),
    )
    session.add(row)
    await session.commit()
    reminder_id = row.id

    async def delivered() -> bool:
        [stored] = await read(session, Message, col(Message.id) == reminder_id)
        return bool(stored.status is MessageStatus.delivered)

    assert await until(delivered)

    tap = await stack.http.post(
        f"{stack.simulator.url}/sim/phones/{phone}/whatsapp", json={"button": "I'll come"}
    )
    assert tap.status_code == 200 and tap.json()["service_status"] == 200

    [inbound] = await read(session, Message, col(Message.direction) == Direction.inbound)
    assert (inbound.person_id, inbound.reach, inbound.body) == (
        member.id,
        Reach.whatsapp,
        "I'll come",
    )
    assert inbound.params == {"button": "I'll come", "reply_to": result.message_id}
    [person] = await read(session, Person, col(Person.id) == member.id)
    assert person.whatsapp_last_inbound_at is not None

    # Now inside the window, free text goes too.
    answer = await asyncio.to_thread(gateway.send_text, BUSINESS, phone, "Karibu!")
    assert answer.outcome is WhatsAppOutcome.accepted
    gateway.close()


async def test_a_failed_whatsapp_message_is_marked_failed_with_its_reason(
    stack: Stack, session: AsyncSession
) -> None:
    w = await f.world(session)
    member = w.members[1]
    phone = member.phone or ""
    app: Any = stack.simulator.server.config.app
    simulator: Simulator = app.state.sim
    simulator.config = dataclasses.replace(simulator.config, whatsapp_failure_share=1.0)
    gateway = AfricasTalkingWhatsApp(
        username="sandbox", api_key=SIMULATOR_API_KEY, base_url=stack.simulator.url, timeout_s=2
    )

    result = await asyncio.to_thread(
        gateway.send_template, BUSINESS, phone, "cop_reminder", "en", ["Maths"]
    )
    row = Message(
        programme_id=w.pid,
        person_id=member.id,
        direction=Direction.outbound,
        kind="reminder",
        phone=phone,
        reach=Reach.whatsapp,
        status=MessageStatus.sent,
        provider_id=result.message_id,
        send_after=utcnow(),
    )
    session.add(row)
    await session.commit()
    failed_id = row.id

    async def failed() -> Message | None:
        [stored] = await read(session, Message, col(Message.id) == failed_id)
        return stored if stored.status is MessageStatus.failed else None

    stored = await until(failed)
    assert stored is not None
    assert stored.last_error == "WhatsApp failed: DeliveryFailure"
    gateway.close()
