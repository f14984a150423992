"""A person's channel: SMS on any phone, or WhatsApp on a smartphone, and their opt-in.

WhatsApp lets a business write first only to someone who opted in, so who chose the
channel matters: the person themselves (USSD menu, an SMS reply `WHATSAPP`) opts in;
staff, a roster import or a partner app only set the channel.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit
from service.domain.actor import Actor
from service.domain.errors import ValidationError
from service.domain.lookup import get_owned
from service.models import Person, Programme
from service.models.enums import Reach


def opted_in_between(opt_in_at: datetime | None, opted_out_at: datetime | None) -> bool:
    """An opt-in stands unless a WhatsApp STOP came after it."""
    return opt_in_at is not None and (opted_out_at is None or opted_out_at < opt_in_at)


def opted_in(person: Person) -> bool:
    """The person agreed to WhatsApp messages and has not stopped them since."""
    return opted_in_between(person.whatsapp_opt_in_at, person.whatsapp_opted_out_at)


async def set_reach(
    programme: Programme,
    person_id: int,
    reach: Reach,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime,
    opt_in: bool,
) -> Person:
    """Set how messages reach one person, audited as `person.reach` with the channel.

    - `whatsapp` with `opt_in` (the person chose it: USSD, an SMS reply) records the
      opt-in WhatsApp requires before a business's first message, and clears an earlier
      WhatsApp STOP: choosing WhatsApp again is a new opt-in. An SMS STOP is not undone.
    - `whatsapp` without `opt_in` (staff, an import, a partner app) sets the channel
      only: until the person opts in, the sender falls back to SMS with the reason
      "no opt-in".
    - `sms` keeps the opt-in history: choosing WhatsApp again later needs no new opt-in
      unless they stopped WhatsApp meanwhile.

    Someone with no phone cannot be reached on WhatsApp. A programme with no WhatsApp
    number may still set it (the number may come later): the sender falls back to SMS.
    """
    assert programme.id is not None
    person = await get_owned(session, Person, person_id, programme.id)
    if reach == Reach.whatsapp and person.phone is None:
        raise ValidationError(
            "a person with no phone number cannot be reached on WhatsApp", field="reach"
        )
    values: dict[str, Any] = {"reach": reach}
    if reach == Reach.whatsapp and opt_in and not opted_in(person):
        values |= {"whatsapp_opt_in_at": now, "whatsapp_opted_out_at": None}
    changes = audit.apply_changes(person, values)
    if changes:
        person.updated_at = now
        changes["channel"] = actor.channel
        audit.record(session, actor, "person.reach", person, changes=changes, at=now)
        await session.flush()
    return person
