"""WHATSAPP (or WA) and SMS by SMS: the person chooses the channel copline writes on.

WhatsApp chosen by the person is their opt-in (`service.domain.reach.set_reach`).
Only a text that is the keyword alone counts (`is_reach_choice`): "SMS yako haijafika"
is a question for the facilitator, not a choice. Someone who sent STOP may choose, but
their STOP stands: nothing is sent to them, not even this confirmation.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.reach import set_reach
from service.models import Person, Programme
from service.models.enums import Channel, Reach
from sms.keywords import Command, Keyword
from sms.replies import Reply

REACH_OF = {Keyword.whatsapp: Reach.whatsapp, Keyword.sms: Reach.sms}


def is_reach_choice(command: Command) -> bool:
    """The keyword alone ("WA", "WhatsApp."), nothing after it but punctuation."""
    alone = not any(ch.isalnum() for ch in command.rest)
    return command.keyword in REACH_OF and command.code is None and alone


async def choose_reach(
    session: AsyncSession,
    programme: Programme,
    person: Person,
    command: Command,
    reply: Reply,
    now: datetime,
) -> str:
    """Set the person's channel from their text and confirm it (by the outbox)."""
    assert person.id is not None
    reach = REACH_OF[command.keyword]
    await set_reach(
        programme, person.id, reach, session=session,
        actor=Actor.person(person.id, Channel.sms), now=now, opt_in=True,
    )  # fmt: skip
    if person.opted_out_at is not None:
        return f"reach {reach.value}: opted out, not told"
    return await reply(f"reach_{reach.value}", now)
