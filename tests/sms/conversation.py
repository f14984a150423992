"""What the tests of a facilitator's commands and of texts passed on share: a person
texts copline, and what it queued is read back from the database."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import AuditEntry, Message, Person, Programme
from service.models.enums import Direction, Language
from sms.inbound import InboundSms, receive
from sms.keywords import FACILITATOR_WORDS, Keyword
from sms.texts import SmsTexts
from tests import factories as f

TEXTS = SmsTexts.load()
NAIROBI = ZoneInfo("Africa/Nairobi")  # the world's programme; quiet hours 19:00-07:00
_ids = itertools.count(1)


def morning(days: int = 1) -> datetime:
    """10:00 programme time some days ahead: no quiet hours."""
    day = (f.now() + timedelta(days=days)).astimezone(NAIROBI).date()
    return datetime.combine(day, time(10, 0), tzinfo=NAIROBI)


def word(language: Language, keyword: Keyword) -> str:
    """The command as a facilitator writing in `language` types it."""
    return FACILITATOR_WORDS[language][keyword][0].upper()


async def texts_in(session: AsyncSession, person: Person, text: str, now: datetime) -> str:
    """`person` texts copline at `now`; the AT id of their SMS."""
    assert person.phone is not None
    provider_id = f"ATInbound_conversation_{next(_ids)}"
    sms = InboundSms(
        sender=person.phone,
        to="20880",
        text=text,
        received_at=now,
        provider_id=provider_id,
        link_id=None,
        network_code="63902",
    )
    await receive(session, sms, now, TEXTS)
    await session.commit()
    return provider_id


async def fresh(session: AsyncSession, model: Any, *where: Any) -> list[Any]:
    """Rows as the database holds them now, not as this session remembers them."""
    session.expunge_all()
    rows = list((await session.exec(select(model).where(*where).order_by(model.id))).all())
    session.expunge_all()  # the test's own objects can be used again
    return rows


async def reply_to(session: AsyncSession, provider_id: str) -> Message | None:
    found = await fresh(session, Message, col(Message.dedupe_key) == f"reply:{provider_id}")
    return found[0] if found else None


async def sent_to(session: AsyncSession, person: Person, kind: str) -> list[Message]:
    return await fresh(
        session,
        Message,
        col(Message.person_id) == person.id,
        col(Message.kind) == kind,
        col(Message.direction) == Direction.outbound,
    )


async def inbound_from(session: AsyncSession, person: Person) -> list[Message]:
    return await fresh(
        session,
        Message,
        col(Message.person_id) == person.id,
        col(Message.direction) == Direction.inbound,
    )


async def audit_of(session: AsyncSession, action: str) -> list[AuditEntry]:
    return await fresh(session, AuditEntry, col(AuditEntry.action) == action)


def shown(message: Message, programme: Programme, *, footer: bool = False) -> str:
    """The SMS as the person reads it: rendered in their language and programme time."""
    assert message.template is not None and message.language is not None
    return TEXTS.render(
        message.template,
        message.language,
        message.params or {},
        timezone=programme.timezone,
        footer=footer,
    )


async def change(session: AsyncSession, people: Sequence[Person], **values: Any) -> None:
    """Set columns of these people in the database, and on the test's objects."""
    await session.execute(
        sa.update(Person).where(col(Person.id).in_([p.id for p in people])).values(**values)
    )
    await session.commit()
    for person in people:
        for name, value in values.items():
            setattr(person, name, value)
