"""The outbox as the sender tests see it: a scripted gateway, a clock, queued reminders."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionFactory
from service.domain import reminders
from service.domain.communities import add_member
from service.models import Message
from sms.gateway import GatewayError, RecipientOutcome, RecipientResult
from sms.sender import Sender, SendPolicy
from sms.texts import SmsTexts
from tests import factories as f

TEXTS = SmsTexts.load()


@dataclass
class Script:
    """A gateway that answers as told: per number an outcome, or a whole-request error."""

    outcomes: dict[str, tuple[RecipientOutcome, int, str]] = field(default_factory=dict)
    errors: list[GatewayError] = field(default_factory=list)
    requests: list[tuple[str, list[str], str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called in the sending thread once the request is "at AT", before the answer.
    during: Callable[[], None] | None = None
    ids: dict[str, str] = field(default_factory=dict)  # the message id AT gives a number

    def send(
        self, message: str, recipients: Sequence[str], sender_id: str | None = None
    ) -> list[RecipientResult]:
        with self.lock:
            self.requests.append((message, list(recipients), sender_id))
            if self.errors:
                raise self.errors.pop(0)
        if self.during is not None:
            self.during()
        results = []
        for number in recipients:
            outcome, code, status = self.outcomes.get(
                number, (RecipientOutcome.accepted, 101, "Success")
            )
            accepted = outcome is RecipientOutcome.accepted
            results.append(
                RecipientResult(
                    number=number,
                    status=status,
                    status_code=code,
                    message_id=(
                        self.ids.get(number, f"ATXid_{number[-6:]}_{len(self.requests)}")
                        if accepted
                        else None
                    ),
                    cost=Decimal("0.8000") if accepted else None,
                    currency="KES" if accepted else None,
                    outcome=outcome,
                )
            )
        return results

    def sent_to(self) -> list[str]:
        return [n for _, numbers, _ in self.requests for n in numbers]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def queued_world(session: AsyncSession, members: int = 2) -> tuple[f.World, Clock]:
    """A world whose meeting's 48 h reminders are queued and due now."""
    w = await f.world(session)
    for _ in range(members - 2):
        p = await f.person(session, w.programme)
        assert p.id is not None and w.community.id is not None
        await add_member(w.pid, w.community.id, p.id, session=session, actor=f.OPERATOR)
    # Quiet hours would defer the rows by the wall clock; they have tests of their own.
    w.programme.quiet_hours_start = w.programme.quiet_hours_end = time(0)
    clock = Clock(w.meeting.starts_at - timedelta(hours=47))
    await reminders.queue_due_reminders(session, clock.now)
    await session.commit()
    return w, clock


async def rows(sessions: SessionFactory) -> list[Message]:
    async with sessions() as s:
        return list(
            (await s.exec(select(Message).order_by(col(Message.person_id), col(Message.id)))).all()
        )


def sender(sessions: SessionFactory, gateway: Script, clock: Clock, **policy: object) -> Sender:
    return Sender(
        sessions,
        gateway,
        TEXTS,
        policy=SendPolicy(**policy),  # type: ignore[arg-type]
        clock=clock,
        rng=random.Random(7),
    )
