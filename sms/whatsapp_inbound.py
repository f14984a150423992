"""Acting on a WhatsApp message from a person: the same meaning as by SMS.

A tapped quick reply answers the reminder it belongs to ("I'll come" is YES, "I can't
come" is NO, for that reminder's meeting), and a typed reply is read exactly as an SMS
(`YES 4821`, `NDIYO`, a survey answer, a question for the facilitator): the RSVP,
check-in or answer lands in the same rows, with channel `whatsapp`. Replies go back
through the outbox, by WhatsApp while the person's 24-hour window is open.

STOP (any language) on WhatsApp opts the person out of WhatsApp, as STOP by SMS opts
them out of SMS: nothing more goes to them by WhatsApp; what copline still has to
tell them comes by SMS until they stop that too, and the confirmation says so.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit
from service.domain.actor import Actor
from service.models import Message, Person, Programme
from service.models.enums import Channel, Direction, Language
from sms.inbound import InboundSms, act
from sms.keywords import Command, Keyword, parse
from sms.replies import Reply
from sms.texts import SmsTexts
from sms.whatsapp_callbacks import WhatsAppInbound

ANSWERS = (Keyword.yes, Keyword.no)  # the reminder's buttons, in order


async def act_on_whatsapp(
    session: AsyncSession,
    programme: Programme,
    person: Person,
    inbound: WhatsAppInbound,
    now: datetime,
    texts: SmsTexts,
) -> str:
    tapped = await _tapped(session, person, inbound, texts)
    if isinstance(tapped, str):  # an option of a survey question: what its tap answers
        inbound = replace(inbound, text=tapped)
    command = tapped if isinstance(tapped, Command) else parse(inbound.text)
    if command.keyword is Keyword.stop:
        return await _stop_whatsapp(session, programme, person, inbound, now)
    if command.keyword is Keyword.start:
        # START is about SMS (sms.inbound); on WhatsApp, writing again is the opt-in.
        command = Command(Keyword.unknown, None, command.language)
    sms = InboundSms(
        sender=inbound.sender,
        to=inbound.to,
        text=inbound.text,
        received_at=inbound.received_at,
        provider_id=inbound.provider_id,
        link_id=None,
        network_code=None,
    )
    return await act(session, programme, person, command, sms, now, texts, channel=Channel.whatsapp)


async def _tapped(
    session: AsyncSession, person: Person, inbound: WhatsAppInbound, texts: SmsTexts
) -> Command | str | None:
    """What a tapped button stands for: YES or NO with its reminder's code, or the
    answer a survey question's option gives (as it would be typed by SMS)."""
    if inbound.button is None or inbound.reply_to is None:
        return None
    answered = (
        await session.execute(
            sa.select(col(Message.params), col(Message.language)).where(
                col(Message.provider_id) == inbound.reply_to,
                col(Message.direction) == Direction.outbound,
                col(Message.person_id) == person.id,
            )
        )
    ).first()
    if answered is None:
        return None
    params, language = answered
    label = inbound.button.strip().casefold()
    whatsapp = (params or {}).get("whatsapp")
    if isinstance(whatsapp, dict) and whatsapp.get("answers"):
        options = [str(o).casefold() for o in whatsapp.get("options") or []]
        answers = [str(a) for a in whatsapp["answers"]]
        for index, answer in enumerate(answers, start=1):
            if label == str(index) or (index <= len(options) and label == options[index - 1]):
                return answer
        return None
    code = (params or {}).get("code")
    if not code:
        return None
    for index, keyword in enumerate(ANSWERS, start=1):
        words = {
            texts.render(f"button_{keyword.value}", lang, {}, timezone="UTC").casefold()
            for lang in Language
        }
        if label == str(index) or label in words:
            return Command(keyword, str(code), language)
    return None


async def _stop_whatsapp(
    session: AsyncSession,
    programme: Programme,
    person: Person,
    inbound: WhatsAppInbound,
    now: datetime,
) -> str:
    if person.whatsapp_opted_out_at is not None and (
        person.whatsapp_opt_in_at is None
        or person.whatsapp_opted_out_at >= person.whatsapp_opt_in_at
    ):
        return "already stopped"
    person.whatsapp_opted_out_at = now
    actor = Actor.person(person.id or 0, Channel.whatsapp)
    audit.record(
        session, actor, "person.whatsapp_opt_out", person, changes={"channel": "whatsapp"}, at=now
    )
    reply = Reply(session, programme, person, inbound.provider_id)
    return await reply("whatsapp_stopped", now, programme=programme.name)
